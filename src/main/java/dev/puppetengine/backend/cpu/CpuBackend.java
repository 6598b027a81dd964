package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.AdamParams;
import dev.puppetengine.backend.AttentionDims;
import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvGeometry;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.OpChecks;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.random.Philox;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Storage;
import dev.puppetengine.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The reference backend: plain Java, float64 arithmetic whatever the storage dtype (results are rounded to
 * it), deterministic, heavy ops parallel over cores. Every CUDA kernel is tested against this.
 */
public final class CpuBackend implements Backend {
    private static final CpuBackend INSTANCE = new CpuBackend();

    private final AtomicLong inUse = new AtomicLong(), peak = new AtomicLong();

    private CpuBackend() {}

    public static CpuBackend get() { return INSTANCE; }

    @Override
    public String name() { return "cpu"; }

    // ---- memory ---------------------------------------------------------------------------------------

    @Override
    public Storage allocate(DType dtype, long numel) {
        if (numel > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("cpu tensors hold at most 2^31 elements, asked for " + numel);
        return new CpuStorage(this, dtype, (int) numel);
    }

    void track(long delta) {
        long now = inUse.addAndGet(delta);
        peak.accumulateAndGet(now, Math::max);
    }

    @Override
    public long bytesInUse() { return inUse.get(); }

    @Override
    public long peakBytes() { return peak.get(); }

    @Override
    public void resetPeak() { peak.set(inUse.get()); }

    /** A new contiguous tensor holding {@code v} (adopted without copying when dtype is F64). */
    private Tensor result(DType t, int[] shape, double[] v) {
        if (t == DType.F64) return Tensor.wrap(new CpuStorage(this, t, v.length, v), shape);
        CpuStorage s = new CpuStorage(this, t, v.length);
        if (s.f32 != null) for (int i = 0; i < v.length; i++) s.f32[i] = (float) v[i];
        else for (int i = 0; i < v.length; i++) s.set(i, v[i]);
        return Tensor.wrap(s, shape);
    }

    private static double[] read(Tensor t) { return Strided.read(t); }

    private static double[] readOrNull(Tensor t) { return t == null ? null : Strided.read(t); }

    /** Elements of {@code t} with its dims reordered (a permuted read, no tensor handle needed). */
    private static double[] readPermuted(Tensor t, int... order) {
        int[] s = t.shape();
        long[] st = t.strides();
        int[] ns = new int[order.length];
        long[] nst = new long[order.length];
        for (int i = 0; i < order.length; i++) { ns[i] = s[order[i]]; nst[i] = st[order[i]]; }
        double[] out = new double[Shape.numelInt(ns)];
        Strided.gather(Strided.storage(t), ns, nst, t.offset(), out);
        return out;
    }

    private static DType statsType(Tensor x) { return x.dtype().full(); }

    // ---- data movement --------------------------------------------------------------------------------

    @Override
    public Tensor copy(Tensor x, DType dtype) {
        double[] v = read(x);
        return result(dtype, x.shape(), v == Strided.storage(x).f64 ? v.clone() : v);
    }

    @Override
    public void copyInto(Tensor src, Tensor dst) {
        OpChecks.sameShape("copyInto", src, dst);
        if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()) {   // the bits as they are: no round trip through double
            CpuStorage.copy(Strided.storage(src), (int) src.offset(), Strided.storage(dst), (int) dst.offset(), Shape.numelInt(dst.shape()));
            return;
        }
        double[] v = read(src);
        Strided.write(dst, v == Strided.storage(dst).f64 ? v.clone() : v);
    }

    @Override
    public void fill(Tensor dst, double value) {
        if (dst.isContiguous()) {   // one run (a new parameter's zeros): no dense double copy, no per-element rounding
            int o = (int) dst.offset();
            Strided.storage(dst).fill(o, o + Shape.numelInt(dst.shape()), value);
            return;
        }
        double[] v = new double[Shape.numelInt(dst.shape())];
        Arrays.fill(v, value);
        Strided.write(dst, v);
    }

    @Override
    public void fillRandom(Tensor dst, RandomKind kind, long seed, long offset) {
        int n = Shape.numelInt(dst.shape());
        float[] f = new float[n];
        Philox.fill(f, n, kind == RandomKind.NORMAL, seed, offset, 0);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = f[i];
        Strided.write(dst, v);
    }

    // ---- elementwise ----------------------------------------------------------------------------------

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int[] shape = Shape.broadcast(a.shape(), b.shape());
        double[] av = Strided.readBroadcast(a, shape), bv = Strided.readBroadcast(b, shape);
        double[] out = new double[av.length];
        switch (op) {
            case ADD: for (int i = 0; i < out.length; i++) out[i] = av[i] + bv[i]; break;
            case SUB: for (int i = 0; i < out.length; i++) out[i] = av[i] - bv[i]; break;
            case MUL: for (int i = 0; i < out.length; i++) out[i] = av[i] * bv[i]; break;
            default: for (int i = 0; i < out.length; i++) out[i] = op.apply(av[i], bv[i]);
        }
        return result(a.dtype().isFloating() || !b.dtype().isFloating() ? a.dtype() : b.dtype(), shape, out);   // the first floating input's
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        double[] v = read(x), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = op.apply(v[i]);
        return result(x.dtype(), x.shape(), out);
    }

    @Override
    public Tensor unaryBackward(UnaryOp op, Tensor x, Tensor gy) {
        double[] v = read(x), g = read(gy), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = g[i] * op.derivative(v[i]);
        return result(gy.dtype(), x.shape(), out);
    }

    @Override
    public Tensor affineFrom(Tensor x, Tensor coef, int scaleAt, int shiftAt) {
        double[] c = read(coef);                // the storage itself: no host transfer
        return affine(x, c[scaleAt], shiftAt < 0 ? 0 : c[shiftAt]);
    }

    @Override
    public Tensor affine(Tensor x, double scale, double shift) {
        double[] v = read(x), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * scale + shift;
        return result(x.dtype(), x.shape(), out);
    }

    @Override
    public Tensor clamp(Tensor x, double lo, double hi) {
        OpChecks.clampBounds(lo, hi);
        double[] v = read(x), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] < lo ? lo : v[i] > hi ? hi : v[i];   // NaN fails both tests: kept
        return result(x.dtype(), x.shape(), out);
    }

    @Override
    public void axpby(double a, Tensor x, double b, Tensor y) {
        OpChecks.sameShape("axpby", x, y);
        double[] xv = read(x), yv = read(y), out = new double[yv.length];
        for (int i = 0; i < out.length; i++) out[i] = a * xv[i] + b * yv[i];
        Strided.write(y, out);
    }

    @Override
    public Tensor sumTo(Tensor x, int[] shape) {
        int[] xs = x.shape();
        OpChecks.sumTo(xs, shape);
        int lead = xs.length - shape.length;
        long[] outStride = new long[xs.length];
        long[] cs = Shape.contiguousStrides(shape);
        for (int i = lead; i < xs.length; i++) outStride[i] = shape[i - lead] == 1 ? 0 : cs[i - lead];
        double[] v = read(x), out = new double[Shape.numelInt(shape)];
        int[] idx = new int[xs.length];
        long o = 0;
        for (int i = 0; i < v.length; i++) {
            out[(int) o] += v[i];
            for (int d = xs.length - 1; d >= 0; d--) {
                idx[d]++;
                o += outStride[d];
                if (idx[d] < xs[d]) break;
                o -= outStride[d] * xs[d];
                idx[d] = 0;
            }
        }
        return result(x.dtype(), shape, out);
    }

    // ---- matrix products ------------------------------------------------------------------------------

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int[] as = a.shape(), bs = b.shape(), batch = OpChecks.matmulBatch(as, bs);
        int m = as[as.length - 2], k = as[as.length - 1], n = bs[bs.length - 1];
        int[] sa = Arrays.copyOf(batch, batch.length + 2), sb = sa.clone(), so = sa.clone();
        sa[batch.length] = m; sa[batch.length + 1] = k;
        sb[batch.length] = k; sb[batch.length + 1] = n;
        so[batch.length] = m; so[batch.length + 1] = n;
        double[] av = Strided.readBroadcast(a, sa), bv = Strided.readBroadcast(b, sb);
        int nb = Shape.numelInt(batch);
        double[] out = new double[Shape.numelInt(so)];
        for (int i = 0; i < nb; i++) CpuGemm.gemm(m, n, k, av, i * m * k, bv, i * k * n, out, i * m * n);
        return result(a.dtype(), so, out);
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        int[] os = OpChecks.linear(x, w, bias);
        OpChecks.residual("linear", residual, os);
        double[] out = projection(x, w, bias);
        if (residual != null) addInto(out, read(residual));
        return result(x.dtype(), os, out);
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        int[] os = OpChecks.linearGeglu(x, w, bias);
        return result(x.dtype(), os, geglu(projection(x, w, bias), os[os.length - 1]));
    }

    /** x (..., K) w^T + bias in double, (rows, N) row-major: the unrounded product the (checked) linear ops finish. */
    private double[] projection(Tensor x, Tensor w, Tensor bias) {
        int[] xs = x.shape();
        int k = xs[xs.length - 1], n = w.size(0);
        int rows = Shape.numelInt(xs) / Math.max(k, 1);
        double[] out = new double[Shape.numelInt(new int[]{rows, n})];
        CpuGemm.gemm(rows, n, k, read(x), 0, readPermuted(w, 1, 0), 0, out, 0);
        if (bias != null) {
            double[] bv = read(bias);
            for (int r = 0; r < rows; r++) for (int j = 0; j < n; j++) out[r * n + j] += bv[j];
        }
        return out;
    }

    private static void addInto(double[] y, double[] r) {
        for (int i = 0; i < y.length; i++) y[i] += r[i];
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Tensor residual, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(x.shape(), w.shape(), spec);
        int[] os = g.outShape();
        OpChecks.residual("conv2d", residual, os);
        double[] y = CpuConv.forward(g, read(x), read(w), readOrNull(bias));   // w as (Cout, KK)
        if (residual != null) addInto(y, read(residual));
        return result(x.dtype(), os, y);
    }

    @Override
    public Tensor conv2dBackwardInput(Tensor gy, Tensor w, int[] xShape, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(xShape, w.shape(), spec);
        double[] wr = readPermuted(w, 1, 2, 0, 3);                    // (kh, kw, Cout, Cin)
        return result(gy.dtype(), xShape.clone(), CpuConv.backwardInput(g, read(gy), wr));
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor gy, Tensor x, int[] wShape, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(x.shape(), wShape, spec);
        return result(gy.dtype(), wShape.clone(), CpuConv.backwardWeight(g, read(gy), read(x)));
    }

    // ---- normalisation and modulation -----------------------------------------------------------------

    @Override
    public NormResult groupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, double eps, boolean silu) {
        int[] s = x.shape();
        OpChecks.groupNorm(s, groups, gamma, beta);
        int n = s[0], c = s[s.length - 1];
        int sp = Shape.numelInt(s) / Math.max(n * c, 1);
        CpuNorm.Out o = CpuNorm.forward(read(x), n, sp, c, groups, readOrNull(gamma), readOrNull(beta), eps, silu);
        return new NormResult(result(x.dtype(), s, o.y()), result(statsType(x), new int[]{n, groups}, o.mean()),
                result(statsType(x), new int[]{n, groups}, o.rstd()));
    }

    @Override
    public Tensor[] groupNormBackward(Tensor x, Tensor gamma, Tensor beta, NormResult saved, int groups, boolean silu, Tensor gy) {
        int[] s = x.shape();
        int n = s[0], c = s[s.length - 1];
        int sp = Shape.numelInt(s) / Math.max(n * c, 1);
        double[][] r = CpuNorm.backward(read(x), n, sp, c, groups, readOrNull(gamma), readOrNull(beta), read(saved.mean()), read(saved.rstd()),
                silu, read(gy));
        DType pt = gamma != null ? gamma.dtype() : x.dtype();
        return new Tensor[]{result(gy.dtype(), s, r[0]), result(pt, new int[]{c}, r[1]), result(pt, new int[]{c}, r[2])};
    }

    @Override
    public NormResult layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
        int[] s = x.shape();
        OpChecks.layerNorm(s, gamma, beta);
        int c = s[s.length - 1], rows = Shape.numelInt(s) / Math.max(c, 1);
        CpuNorm.Out o = CpuNorm.forward(read(x), rows, 1, c, 1, readOrNull(gamma), readOrNull(beta), eps, false);
        int[] st = Arrays.copyOf(s, s.length - 1);
        return new NormResult(result(x.dtype(), s, o.y()), result(statsType(x), st, o.mean()), result(statsType(x), st, o.rstd()));
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor gamma, NormResult saved, Tensor gy) {
        int[] s = x.shape();
        int c = s[s.length - 1], rows = Shape.numelInt(s) / Math.max(c, 1);
        double[][] r = CpuNorm.backward(read(x), rows, 1, c, 1, readOrNull(gamma), null, read(saved.mean()), read(saved.rstd()), false, read(gy));
        DType pt = gamma != null ? gamma.dtype() : x.dtype();
        return new Tensor[]{result(gy.dtype(), s, r[0]), result(pt, new int[]{c}, r[1]), result(pt, new int[]{c}, r[2])};
    }

    @Override
    public Tensor blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor beta) {
        OpChecks.blendFilm(a, b, alpha, gamma, beta);
        double[] out = blend(a, b, alpha);
        if (gamma != null) {
            double[] g = read(gamma), be = read(beta);
            for (int i = 0; i < out.length; i++) out[i] = out[i] * (1 + g[i]) + be[i];
        }
        return result(a.dtype(), a.shape(), out);
    }

    /** alpha * a + (1 - alpha) * b, or a copy of a without b: a new array (read may return a's own). */
    private double[] blend(Tensor a, Tensor b, Tensor alpha) {
        double[] x = read(a).clone();
        if (b == null) return x;
        double al = read(alpha)[0];
        double[] bv = read(b);
        for (int i = 0; i < x.length; i++) x[i] = al * x[i] + (1 - al) * bv[i];
        return x;
    }

    @Override
    public Tensor[] blendFilmBackward(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor gy) {
        OpChecks.blendFilm(a, b, alpha, gamma);
        double[] go = read(gy), gx = go.clone(), dg = null;
        if (gamma != null) {   // through the FiLM: dx = gy * (1 + gamma), dgamma = gy * x
            double[] g = read(gamma), x = blend(a, b, alpha);
            dg = new double[go.length];
            for (int i = 0; i < go.length; i++) { gx[i] = go[i] * (1 + g[i]); dg[i] = go[i] * x[i]; }
        }
        DType t = gy.dtype();
        if (b == null)
            return new Tensor[]{result(t, a.shape(), gx), null, null, dg == null ? null : result(t, a.shape(), dg), gamma == null ? null : copy(gy, t)};
        double al = read(alpha)[0], dal = 0;
        double[] av = read(a), bv = read(b), da = new double[gx.length], db = new double[gx.length];
        for (int i = 0; i < gx.length; i++) { da[i] = gx[i] * al; db[i] = gx[i] * (1 - al); dal += gx[i] * (av[i] - bv[i]); }
        return new Tensor[]{result(t, a.shape(), da), result(t, a.shape(), db), result(DType.F32, new int[]{1}, new double[]{dal}),
                dg == null ? null : result(t, a.shape(), dg), gamma == null ? null : copy(gy, t)};
    }

    @Override
    public Tensor geglu(Tensor p) {
        int[] os = OpChecks.geglu(p.shape());
        return result(p.dtype(), os, geglu(read(p), os[os.length - 1]));
    }

    /** Rows of 2d values (values then gates) -> rows of d: value * gelu(gate), rows in parallel (erf is costly). */
    private static double[] geglu(double[] v, int d) {
        int rows = v.length / Math.max(2 * d, 1);
        double[] out = new double[rows * d];
        Parallel.forEach(rows, 50L * d, r -> {
            for (int j = 0; j < d; j++) out[r * d + j] = v[r * 2 * d + j] * UnaryOp.GELU.apply(v[r * 2 * d + d + j]);
        });
        return out;
    }

    @Override
    public Tensor gegluBackward(Tensor p, Tensor gy) {
        int[] s = p.shape();
        OpChecks.gegluBackward(s, gy);
        int two = s[s.length - 1], d = two / 2;
        double[] v = read(p), g = read(gy), out = new double[v.length];
        int rows = v.length / Math.max(two, 1);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++) {
                double a = v[r * two + j], gate = v[r * two + d + j], go = g[r * d + j];
                out[r * two + j] = go * UnaryOp.GELU.apply(gate);
                out[r * two + d + j] = go * a * UnaryOp.GELU.derivative(gate);
            }
        return result(gy.dtype(), s, out);
    }

    // ---- attention ------------------------------------------------------------------------------------

    @Override
    public AttentionResult attention(Tensor q, Tensor k, Tensor v, int heads, double scale) {
        AttentionDims dm = AttentionDims.of(q, k, v, heads);
        double[][] r = CpuAttention.forward(dm, read(q), read(k), read(v), scale);
        return new AttentionResult(result(q.dtype(), q.shape(), r[0]), result(statsType(q), new int[]{dm.bq(), heads, dm.lq()}, r[1]));
    }

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, AttentionResult saved, Tensor gOut, int heads, double scale) {
        AttentionDims dm = AttentionDims.of(q, k, v, heads);
        double[][] r = CpuAttention.backward(dm, read(q), read(k), read(v), read(saved.out()), read(saved.lse()), read(gOut), scale);
        return new Tensor[]{result(gOut.dtype(), q.shape(), r[0]), result(gOut.dtype(), k.shape(), r[1]), result(gOut.dtype(), v.shape(), r[2])};
    }

    // ---- resampling -----------------------------------------------------------------------------------

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        OpChecks.upsample(s);
        int n = s[0], h = s[1], w = s[2], c = s[3];
        int[] os = {n, 2 * h, 2 * w, c};
        double[] v = read(x), out = new double[Shape.numelInt(os)];
        for (int b = 0; b < n; b++)
            for (int y = 0; y < 2 * h; y++)
                for (int xx = 0; xx < 2 * w; xx++)
                    System.arraycopy(v, ((b * h + y / 2) * w + xx / 2) * c, out, ((b * 2 * h + y) * 2 * w + xx) * c, c);
        return result(x.dtype(), os, out);
    }

    @Override
    public Tensor upsampleNearest2xBackward(Tensor gy) {
        int[] s = gy.shape();
        OpChecks.upsampleBackward(s);
        int n = s[0], h = s[1] / 2, w = s[2] / 2, c = s[3];
        double[] g = read(gy), out = new double[n * h * w * c];
        for (int b = 0; b < n; b++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            int src = ((b * 2 * h + 2 * y + dy) * 2 * w + 2 * xx + dx) * c, dst = ((b * h + y) * w + xx) * c;
                            for (int j = 0; j < c; j++) out[dst + j] += g[src + j];
                        }
        return result(gy.dtype(), new int[]{n, h, w, c}, out);
    }

    /** Bilinear corner indices and weights of a normalised point: pixel = u * size - 0.5, clamped to [0, size-1]. */
    private static double[] bilinear(double u, double v, int h, int w) {
        double px = Math.min(Math.max(u * w - 0.5, 0), w - 1), py = Math.min(Math.max(v * h - 0.5, 0), h - 1);
        double x0 = Math.floor(px), y0 = Math.floor(py);
        return new double[]{x0, y0, Math.min(x0 + 1, w - 1), Math.min(y0 + 1, h - 1), px - x0, py - y0};
    }

    @Override
    public Tensor gridSamplePoints(Tensor feat, Tensor points) {
        int[] fs = feat.shape(), ps = points.shape();
        OpChecks.gridSample(fs, ps);
        int n = fs[0], h = fs[1], w = fs[2], c = fs[3], k = ps[1];
        double[] f = read(feat), p = read(points), out = new double[n * k * c];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < k; i++) {
                double[] bl = bilinear(p[(b * k + i) * 2], p[(b * k + i) * 2 + 1], h, w);
                int x0 = (int) bl[0], y0 = (int) bl[1], x1 = (int) bl[2], y1 = (int) bl[3];
                double ax = bl[4], ay = bl[5];
                for (int j = 0; j < c; j++) {
                    double v00 = f[((b * h + y0) * w + x0) * c + j], v01 = f[((b * h + y0) * w + x1) * c + j];
                    double v10 = f[((b * h + y1) * w + x0) * c + j], v11 = f[((b * h + y1) * w + x1) * c + j];
                    out[(b * k + i) * c + j] = (1 - ay) * ((1 - ax) * v00 + ax * v01) + ay * ((1 - ax) * v10 + ax * v11);
                }
            }
        return result(feat.dtype(), new int[]{n, k, c}, out);
    }

    @Override
    public Tensor gridSamplePointsBackward(Tensor gy, Tensor points, int[] featShape) {
        OpChecks.gridSampleBackward(gy.shape(), points.shape(), featShape);
        int n = featShape[0], h = featShape[1], w = featShape[2], c = featShape[3], k = points.size(1);
        double[] g = read(gy), p = read(points), out = new double[Shape.numelInt(featShape)];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < k; i++) {
                double[] bl = bilinear(p[(b * k + i) * 2], p[(b * k + i) * 2 + 1], h, w);
                int x0 = (int) bl[0], y0 = (int) bl[1], x1 = (int) bl[2], y1 = (int) bl[3];
                double ax = bl[4], ay = bl[5];
                for (int j = 0; j < c; j++) {
                    double go = g[(b * k + i) * c + j];
                    out[((b * h + y0) * w + x0) * c + j] += (1 - ay) * (1 - ax) * go;
                    out[((b * h + y0) * w + x1) * c + j] += (1 - ay) * ax * go;
                    out[((b * h + y1) * w + x0) * c + j] += ay * (1 - ax) * go;
                    out[((b * h + y1) * w + x1) * c + j] += ay * ax * go;
                }
            }
        return result(gy.dtype(), featShape.clone(), out);
    }

    // ---- optimiser ------------------------------------------------------------------------------------

    @Override
    public void adamStep(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, AdamParams p, List<Tensor> lowPrecision) {
        double bc1 = 1 - Math.pow(p.beta1(), p.step()), bc2 = 1 - Math.pow(p.beta2(), p.step());
        for (int t = 0; t < params.size(); t++) {
            Tensor pt = params.get(t);
            double[] w = read(pt).clone(), g = read(grads.get(t)), mv = read(m.get(t)).clone(), vv = read(v.get(t)).clone();
            for (int i = 0; i < w.length; i++) {
                double gi = g[i] * p.gradScale();
                if (p.weightDecay() != 0) {
                    if (p.decoupled()) w[i] *= 1 - p.lr() * p.weightDecay();
                    else gi += p.weightDecay() * w[i];
                }
                mv[i] = p.beta1() * mv[i] + (1 - p.beta1()) * gi;
                vv[i] = p.beta2() * vv[i] + (1 - p.beta2()) * gi * gi;
                double denom = Math.sqrt(vv[i]) / Math.sqrt(bc2) + p.eps();
                w[i] -= p.lr() / bc1 * mv[i] / denom;
            }
            Strided.write(pt, w);
            Strided.write(m.get(t), mv);
            Strided.write(v.get(t), vv);
            if (lowPrecision != null) Strided.write(lowPrecision.get(t), w);
        }
    }
}
