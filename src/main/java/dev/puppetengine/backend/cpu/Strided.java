package dev.puppetengine.backend.cpu;

import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import java.util.Arrays;

/** Gathers and scatters between strided views and dense double arrays in logical (row-major) order. */
final class Strided {
    private Strided() {}

    static CpuStorage storage(Tensor t) {
        if (!(t.storage() instanceof CpuStorage s))
            throw new IllegalArgumentException("tensor on backend '" + t.backend().name() + "' passed to the cpu backend: move it with to(backend) first");
        return s;
    }

    /** The elements of {@code t} as a dense array. May return the storage's own F64 array: treat it as read-only. */
    static double[] read(Tensor t) {
        CpuStorage s = storage(t);
        int n = Shape.numelInt(t.shape());
        if (s.f64 != null && t.offset() == 0 && n == s.numel() && t.isContiguous()) return s.f64;
        double[] out = new double[n];
        if (s.f32 != null && t.isContiguous()) {   // one flat run: the odometer per row cost more than the copy where rows are short
            int o = (int) t.offset();
            for (int i = 0; i < n; i++) out[i] = s.f32[o + i];
        } else gather(s, t.shape(), t.strides(), t.offset(), out);
        return out;
    }

    /** The elements of {@code t} broadcast to {@code shape}, as a dense array. */
    static double[] readBroadcast(Tensor t, int[] shape) {
        if (Arrays.equals(t.shape(), shape)) return read(t);
        int[] ts = t.shape();
        long[] tst = t.strides();
        long[] st = new long[shape.length];
        int lead = shape.length - ts.length;
        for (int i = 0; i < shape.length; i++) {
            if (i < lead) continue;
            int d = ts[i - lead];
            if (d != shape[i] && d != 1) throw new IllegalArgumentException("cannot broadcast " + Shape.str(ts) + " to " + Shape.str(shape));
            st[i] = d == 1 ? 0 : tst[i - lead];
        }
        double[] out = new double[Shape.numelInt(shape)];
        gather(storage(t), shape, st, t.offset(), out);
        return out;
    }

    static void gather(CpuStorage s, int[] shape, long[] strides, long offset, double[] out) {
        int n = out.length;
        if (n == 0) return;
        int r = shape.length;
        if (r == 0) { out[0] = s.get(offset); return; }
        int inner = shape[r - 1];
        long innerStride = strides[r - 1];
        int[] idx = new int[r];
        long base = offset;
        for (int i = 0; i < n; i += inner) {
            if (s.f32 != null && innerStride == 1) {
                for (int j = 0; j < inner; j++) out[i + j] = s.f32[(int) base + j];
            } else {
                for (int j = 0; j < inner; j++) out[i + j] = s.get(base + j * innerStride);
            }
            for (int d = r - 2; d >= 0; d--) {           // odometer over the outer dims
                idx[d]++;
                base += strides[d];
                if (idx[d] < shape[d]) break;
                base -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /** Writes dense values into the (possibly strided) view {@code t}, rounding to its dtype. */
    static void write(Tensor t, double[] v) {
        CpuStorage s = storage(t);
        int[] shape = t.shape();
        long[] strides = t.strides();
        int r = shape.length, n = v.length;
        if (n == 0) return;
        if (r == 0) { s.set(t.offset(), v[0]); return; }
        int inner = shape[r - 1];
        long innerStride = strides[r - 1];
        int[] idx = new int[r];
        long base = t.offset();
        for (int i = 0; i < n; i += inner) {
            for (int j = 0; j < inner; j++) s.set(base + j * innerStride, v[i + j]);
            for (int d = r - 2; d >= 0; d--) {
                idx[d]++;
                base += strides[d];
                if (idx[d] < shape[d]) break;
                base -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }
}
