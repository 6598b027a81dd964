package dev.puppetengine.backend.cpu;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

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

    /** Sets elements [from, to) to {@code v} rounded to the dtype once, as {@link #set} rounds it. */
    void fill(int from, int to, double v) {
        if (from == to) return;
        set(from, v);
        switch (dtype()) {
            case F64: Arrays.fill(f64, from, to, f64[from]); break;
            case F32: Arrays.fill(f32, from, to, f32[from]); break;
            case BF16: case F16: Arrays.fill(h16, from, to, h16[from]); break;
            case I64: Arrays.fill(i64, from, to, i64[from]); break;
            case I32: Arrays.fill(i32, from, to, i32[from]); break;
            default: Arrays.fill(u8, from, to, u8[from]);
        }
    }

    /** Copies {@code n} elements between storages of one dtype, bit for bit (overlapping runs of one storage included). */
    static void copy(CpuStorage src, int srcFrom, CpuStorage dst, int dstFrom, int n) {
        System.arraycopy(src.array(), srcFrom, dst.array(), dstFrom, n);
    }

    /** The one array that holds this storage's elements. */
    private Object array() {
        return f64 != null ? f64 : f32 != null ? f32 : h16 != null ? h16 : i64 != null ? i64 : i32 != null ? i32 : u8;
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
        switch (dtype()) {   // bulk views of the buffer, which do not move its position: moved after
            case F64: b.asDoubleBuffer().put(f64, o, n); break;
            case F32: b.asFloatBuffer().put(f32, o, n); break;
            case BF16: case F16: b.asShortBuffer().put(h16, o, n); break;
            case I64: b.asLongBuffer().put(i64, o, n); break;
            case I32: b.asIntBuffer().put(i32, o, n); break;
            default: b.put(u8, o, n); return;
        }
        b.position(b.position() + n * dtype().bytes());
    }

    @Override
    protected void writeBytes(long elemOffset, ByteBuffer src) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / dtype().bytes();
        int o = (int) elemOffset;
        switch (dtype()) {   // as in readBytes
            case F64: b.asDoubleBuffer().get(f64, o, n); break;
            case F32: b.asFloatBuffer().get(f32, o, n); break;
            case BF16: case F16: b.asShortBuffer().get(h16, o, n); break;
            case I64: b.asLongBuffer().get(i64, o, n); break;
            case I32: b.asIntBuffer().get(i32, o, n); break;
            default: b.get(u8, o, n); return;
        }
        b.position(b.position() + n * dtype().bytes());
    }
}
