package dev.puppetengine.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Encoding of host values to and from little-endian element bytes of a {@link DType}. */
public final class HostData {
    private HostData() {}

    public static double[] decode(ByteBuffer src, DType t, int n) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        double[] out = new double[n];
        switch (t) {
            case F64: for (int i = 0; i < n; i++) out[i] = b.getDouble(); break;
            case F32: for (int i = 0; i < n; i++) out[i] = b.getFloat(); break;
            case BF16: for (int i = 0; i < n; i++) out[i] = Half.bf16ToFloat(b.getShort()); break;
            case F16: for (int i = 0; i < n; i++) out[i] = Half.f16ToFloat(b.getShort()); break;
            case I64: for (int i = 0; i < n; i++) out[i] = b.getLong(); break;
            case I32: for (int i = 0; i < n; i++) out[i] = b.getInt(); break;
            case U8: case BOOL: for (int i = 0; i < n; i++) out[i] = b.get() & 0xff; break;
            default: throw new AssertionError(t);
        }
        return out;
    }

    /** Encodes values, rounding to nearest even for narrower float types. */
    public static ByteBuffer encode(double[] v, DType t) {
        ByteBuffer b = ByteBuffer.allocate(v.length * t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        switch (t) {
            case F64: for (double x : v) b.putDouble(x); break;
            case F32: for (double x : v) b.putFloat((float) x); break;
            case BF16: for (double x : v) b.putShort(Half.doubleToBf16(x)); break;
            case F16: for (double x : v) b.putShort(Half.doubleToF16(x)); break;
            case I64: for (double x : v) b.putLong((long) x); break;
            case I32: for (double x : v) b.putInt((int) x); break;
            case U8: case BOOL: for (double x : v) b.put((byte) (int) x); break;
            default: throw new AssertionError(t);
        }
        return b.flip();
    }
}
