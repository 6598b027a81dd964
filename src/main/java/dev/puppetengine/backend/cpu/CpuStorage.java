package dev.puppetengine.backend.cpu;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Heap arrays, one per dtype family; element access through {@link #get}/{@link #set} in double. */
final class CpuStorage extends Storage {
    final double[] f64;
    final float[] f32;
    final short[] h16;
    final long[] i64;
    final int[] i32;
    final byte[] u8;
    private final CpuBackend owner;

    CpuStorage(CpuBackend owner, DType t, int n) {
        this(owner, t, n, t == DType.F64 ? new double[n] : null);
    }

    /** Adopts {@code f64} (not copied) when t is F64. */
    CpuStorage(CpuBackend owner, DType t, int n, double[] f64) {
        super(owner, t, n);
        this.owner = owner;
        this.f64 = t == DType.F64 ? f64 : null;
        this.f32 = t == DType.F32 ? new float[n] : null;
        this.h16 = t == DType.BF16 || t == DType.F16 ? new short[n] : null;
        this.i64 = t == DType.I64 ? new long[n] : null;
        this.i32 = t == DType.I32 ? new int[n] : null;
        this.u8 = t == DType.U8 || t == DType.BOOL ? new byte[n] : null;
        owner.track(bytes());
    }

    double get(long i) {
        int k = (int) i;
        switch (dtype()) {
            case F64: return f64[k];
            case F32: return f32[k];
            case BF16: return Half.bf16ToFloat(h16[k]);
            case F16: return Half.f16ToFloat(h16[k]);
            case I64: return i64[k];
            case I32: return i32[k];
            default: return u8[k] & 0xff;
        }
    }

    void set(long i, double v) {
        int k = (int) i;
        switch (dtype()) {
            case F64: f64[k] = v; break;
            case F32: f32[k] = (float) v; break;
            case BF16: h16[k] = Half.doubleToBf16(v); break;
            case F16: h16[k] = Half.doubleToF16(v); break;
            case I64: i64[k] = (long) v; break;
            case I32: i32[k] = (int) v; break;
            default: u8[k] = (byte) (int) v;
        }
    }

    @Override
    protected void free() {
        owner.track(-bytes());
    }

    @Override
    protected void readBytes(long elemOffset, ByteBuffer dst) {
        ByteBuffer b = dst.order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / dtype().bytes();
        int o = (int) elemOffset;
        switch (dtype()) {
            case F64: for (int i = 0; i < n; i++) b.putDouble(f64[o + i]); break;
            case F32: for (int i = 0; i < n; i++) b.putFloat(f32[o + i]); break;
            case BF16: case F16: for (int i = 0; i < n; i++) b.putShort(h16[o + i]); break;
            case I64: for (int i = 0; i < n; i++) b.putLong(i64[o + i]); break;
            case I32: for (int i = 0; i < n; i++) b.putInt(i32[o + i]); break;
            default: b.put(u8, o, n);
        }
    }

    @Override
    protected void writeBytes(long elemOffset, ByteBuffer src) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / dtype().bytes();
        int o = (int) elemOffset;
        switch (dtype()) {
            case F64: for (int i = 0; i < n; i++) f64[o + i] = b.getDouble(); break;
            case F32: for (int i = 0; i < n; i++) f32[o + i] = b.getFloat(); break;
            case BF16: case F16: for (int i = 0; i < n; i++) h16[o + i] = b.getShort(); break;
            case I64: for (int i = 0; i < n; i++) i64[o + i] = b.getLong(); break;
            case I32: for (int i = 0; i < n; i++) i32[o + i] = b.getInt(); break;
            default: b.get(u8, o, n);
        }
    }
}
