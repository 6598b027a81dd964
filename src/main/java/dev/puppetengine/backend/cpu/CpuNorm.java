package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.UnaryOp;

/**
 * Group norm over x viewed as (N, S, C): statistics per (n, group of C/G contiguous channels) over S and the
 * group's channels, biased variance, then the per-channel affine and an optional SiLU. Layer norm is the
 * case S = 1, G = 1 with N = rows. Statistics are kept (mean, rstd) for the backward.
 */
final class CpuNorm {
    private CpuNorm() {}

    record Out(double[] y, double[] mean, double[] rstd) {}

    static Out forward(double[] x, int n, int s, int c, int groups, double[] gamma, double[] beta, double eps, boolean silu) {
        int cg = c / groups;
        double[] y = new double[x.length], mean = new double[n * groups], rstd = new double[n * groups];
        Parallel.forEach(n * groups, (long) s * cg * 4, ng -> {
            int b = ng / groups, g = ng % groups;
            double sum = 0;
            for (int i = 0; i < s; i++) {
                int o = (b * s + i) * c + g * cg;
                for (int j = 0; j < cg; j++) sum += x[o + j];
            }
            double mu = sum / ((double) s * cg);
            double sq = 0;
            for (int i = 0; i < s; i++) {
                int o = (b * s + i) * c + g * cg;
                for (int j = 0; j < cg; j++) { double d = x[o + j] - mu; sq += d * d; }
            }
            double r = 1 / Math.sqrt(sq / ((double) s * cg) + eps);
            mean[ng] = mu;
            rstd[ng] = r;
            for (int i = 0; i < s; i++) {
                int o = (b * s + i) * c + g * cg;
                for (int j = 0; j < cg; j++) {
                    int ch = g * cg + j;
                    double v = (x[o + j] - mu) * r * (gamma == null ? 1 : gamma[ch]) + (beta == null ? 0 : beta[ch]);
                    y[o + j] = silu ? UnaryOp.SILU.apply(v) : v;
                }
            }
        });
        return new Out(y, mean, rstd);
    }

    /** Returns {dx, dgamma, dbeta}. */
    static double[][] backward(double[] x, int n, int s, int c, int groups, double[] gamma, double[] beta, double[] mean, double[] rstd,
                               boolean silu, double[] gy) {
        int cg = c / groups;
        double m = (double) s * cg;
        double[] dx = new double[x.length];
        double[] gpre = silu ? new double[x.length] : gy;      // gradient before the SiLU
        if (silu) {
            for (int i = 0; i < x.length; i++) {
                int ch = i % c, ng = (i / (s * c)) * groups + ch / cg;
                double v = (x[i] - mean[ng]) * rstd[ng] * (gamma == null ? 1 : gamma[ch]) + (beta == null ? 0 : beta[ch]);
                gpre[i] = gy[i] * UnaryOp.SILU.derivative(v);
            }
        }
        Parallel.forEach(n * groups, (long) s * cg * 6, ng -> {
            int b = ng / groups, g = ng % groups;
            double mu = mean[ng], r = rstd[ng], sumD = 0, sumDX = 0;
            for (int i = 0; i < s; i++) {
                int o = (b * s + i) * c + g * cg;
                for (int j = 0; j < cg; j++) {
                    double dxhat = gpre[o + j] * (gamma == null ? 1 : gamma[g * cg + j]);
                    sumD += dxhat;
                    sumDX += dxhat * (x[o + j] - mu) * r;
                }
            }
            for (int i = 0; i < s; i++) {
                int o = (b * s + i) * c + g * cg;
                for (int j = 0; j < cg; j++) {
                    double xhat = (x[o + j] - mu) * r;
                    double dxhat = gpre[o + j] * (gamma == null ? 1 : gamma[g * cg + j]);
                    dx[o + j] = r * (dxhat - sumD / m - xhat * sumDX / m);
                }
            }
        });
        double[] dgamma = new double[c], dbeta = new double[c];
        Parallel.forEach(c, (long) n * s * 2, ch -> {
            int g = ch / cg;
            double sg = 0, sb = 0;
            for (int b = 0; b < n; b++) {
                double mu = mean[b * groups + g], r = rstd[b * groups + g];
                for (int i = 0; i < s; i++) {
                    int o = (b * s + i) * c + ch;
                    sg += gpre[o] * (x[o] - mu) * r;
                    sb += gpre[o];
                }
            }
            dgamma[ch] = sg;
            dbeta[ch] = sb;
        });
        return new double[][]{dx, dgamma, dbeta};
    }
}
