package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.AttentionDims;

/**
 * Scaled dot-product attention per head on dense (B, L, C) arrays, heads as contiguous C/heads slices.
 * Query batch i reads key/value batch i / rep (rep = Bq / Bk). The forward keeps the log-sum-exp of each
 * query row; the backward recomputes probabilities from it, one task per (key/value batch, head) so the
 * key/value gradients accumulate over their query batches in a fixed order.
 */
final class CpuAttention {
    private CpuAttention() {}


    /** Returns {out (Bq*Lq*C), lse (Bq*heads*Lq)}. */
    static double[][] forward(AttentionDims dm, double[] q, double[] k, double[] v, double scale) {
        int c = dm.c(), d = dm.d(), lq = dm.lq(), lk = dm.lk();
        double[] out = new double[dm.bq() * lq * c];
        double[] lse = new double[dm.bq() * dm.heads() * lq];
        Parallel.forEach(dm.bq() * dm.heads(), (long) lq * lk * d * 2, task -> {
            int bi = task / dm.heads(), h = task % dm.heads(), bj = bi / dm.rep();
            double[] s = new double[lk];
            for (int i = 0; i < lq; i++) {
                int qo = (bi * lq + i) * c + h * d;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < lk; j++) {
                    int ko = (bj * lk + j) * c + h * d;
                    double acc = 0;
                    for (int e = 0; e < d; e++) acc += q[qo + e] * k[ko + e];
                    s[j] = acc * scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) { s[j] = Math.exp(s[j] - max); sum += s[j]; }
                lse[(bi * dm.heads() + h) * lq + i] = max + Math.log(sum);
                int oo = (bi * lq + i) * c + h * d;
                for (int j = 0; j < lk; j++) {
                    double p = s[j] / sum;
                    int vo = (bj * lk + j) * c + h * d;
                    for (int e = 0; e < d; e++) out[oo + e] += p * v[vo + e];
                }
            }
        });
        return new double[][]{out, lse};
    }

    /** Returns {dq, dk, dv}. */
    static double[][] backward(AttentionDims dm, double[] q, double[] k, double[] v, double[] out, double[] lse, double[] go, double scale) {
        int c = dm.c(), d = dm.d(), lq = dm.lq(), lk = dm.lk(), rep = dm.rep();
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        Parallel.forEach(dm.bk() * dm.heads(), (long) rep * lq * lk * d * 4, task -> {
            int bj = task / dm.heads(), h = task % dm.heads();
            double[] p = new double[lk];
            for (int bi = bj * rep; bi < (bj + 1) * rep; bi++) {
                for (int i = 0; i < lq; i++) {
                    int qo = (bi * lq + i) * c + h * d;
                    double l = lse[(bi * dm.heads() + h) * lq + i];
                    double delta = 0;
                    for (int e = 0; e < d; e++) delta += go[qo + e] * out[qo + e];
                    for (int j = 0; j < lk; j++) {
                        int ko = (bj * lk + j) * c + h * d;
                        double acc = 0;
                        for (int e = 0; e < d; e++) acc += q[qo + e] * k[ko + e];
                        p[j] = Math.exp(acc * scale - l);
                    }
                    for (int j = 0; j < lk; j++) {
                        int ko = (bj * lk + j) * c + h * d;
                        double dp = 0;
                        for (int e = 0; e < d; e++) dp += go[qo + e] * v[ko + e];
                        double ds = p[j] * (dp - delta) * scale;
                        for (int e = 0; e < d; e++) {
                            dq[qo + e] += ds * k[ko + e];
                            dk[ko + e] += ds * q[qo + e];
                            dv[ko + e] += p[j] * go[qo + e];
                        }
                    }
                }
            }
        });
        return new double[][]{dq, dk, dv};
    }
}
