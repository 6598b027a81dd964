package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.ConvGeometry;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.Shape;

import java.util.Arrays;

/**
 * Channels-last 2-D convolution as tiled im2col + GEMM. x (N, H, W, Cin), weights (Cout, kh, kw, Cin).
 * Every pass is parallel over tiles of the pixels it writes (or over output-channel blocks for the weight
 * gradient) and keeps a fixed summation order, so the results are deterministic. The temporal (3,1,1)
 * convolution is this op with kh = 3, kw = 1 on the (B, F, H*W, C) view.
 */
final class CpuConv {
    private CpuConv() {}

    private static final int TILE = 128, CO_BLOCK = 16;

    /** Per thread: the forward's im2col tile, reused (a new one per tile cost ~10% of the forward). */
    private static final ThreadLocal<double[][]> COLS = ThreadLocal.withInitial(() -> new double[1][0]);

    /**
     * y (N*Ho*Wo, Cout) = im2col(x) (P, KK) x w^T (KK, Cout) + bias, per tile of TILE pixels, the GEMM writing
     * the tile's rows of y in place. This way round im2col copies contiguous runs; (W x cols^T)^T, the other
     * way, needed a transposed im2col whose writes at a 1 KiB stride cost more than half the GEMM. Each
     * output's sum runs over k in CpuGemm's fixed order either way.
     */
    static double[] forward(ConvGeometry g, double[] x, double[] w, double[] bias) {
        double[] y = new double[Shape.numelInt(g.outShape())];   // the clear refusal before p * cout can wrap
        int p = g.n() * g.ho() * g.wo(), kk = g.kk(), cout = g.cout();
        double[] wt = new double[kk * cout];
        for (int c = 0; c < cout; c++) for (int k = 0; k < kk; k++) wt[k * cout + c] = w[c * kk + k];
        int tiles = (p + TILE - 1) / TILE;
        Parallel.forEach(tiles, (long) TILE * kk * cout, t -> {
            int p0 = t * TILE, rows = Math.min(TILE, p - p0);
            double[][] scratch = COLS.get();
            if (scratch[0].length < TILE * kk) scratch[0] = new double[TILE * kk];
            im2col(g, x, p0, rows, scratch[0]);
            CpuGemm.gemmSerial(rows, cout, kk, scratch[0], 0, wt, 0, y, p0 * cout);
            if (bias != null)   // added to the finished sum (without a bias there is nothing to add: a sum from +0.0 is never -0.0)
                for (int r = p0; r < p0 + rows; r++) for (int c = 0; c < cout; c++) y[r * cout + c] += bias[c];
        });
        return y;
    }

    /**
     * Rows p0..p0+rows of the im2col matrix: per output pixel r, its (ky, kx, ci) patch values at
     * cols[r * KK + (ky * kw + kx) * Cin + ci], zero outside the input. Each tap is a run of Cin contiguous
     * values in both x and cols, so it is one copy.
     */
    private static void im2col(ConvGeometry g, double[] x, int p0, int rows, double[] cols) {
        int ho = g.ho(), wo = g.wo(), cin = g.cin(), kk = g.kk();
        ConvSpec s = g.s();
        for (int r = 0; r < rows; r++) {
            int pix = p0 + r;
            int ox = pix % wo, oy = (pix / wo) % ho, n = pix / (wo * ho);
            for (int ky = 0; ky < g.kh(); ky++) {
                int iy = oy * s.strideH() - s.padTop() + ky;
                for (int kx = 0; kx < g.kw(); kx++) {
                    int ix = ox * s.strideW() - s.padLeft() + kx;
                    int dst = r * kk + (ky * g.kw() + kx) * cin;
                    if (iy >= 0 && iy < g.h() && ix >= 0 && ix < g.w())
                        System.arraycopy(x, ((n * g.h() + iy) * g.w() + ix) * cin, cols, dst, cin);
                    else Arrays.fill(cols, dst, dst + cin, 0);
                }
            }
        }
    }

    /**
     * gx (N*H*W, Cin): per input pixel, gather gy at every output pixel whose window covers it, then multiply
     * by wr ((ky, kx, co), ci).
     */
    static double[] backwardInput(ConvGeometry g, double[] gy, double[] wr) {
        int p = g.n() * g.h() * g.w(), cin = g.cin(), cout = g.cout(), kg = g.kh() * g.kw() * cout;
        int ho = g.ho(), wo = g.wo();
        ConvSpec s = g.s();
        double[] gx = new double[Shape.numelInt(new int[]{g.n(), g.h(), g.w(), cin})];
        int tiles = (p + TILE - 1) / TILE;
        Parallel.forEach(tiles, (long) TILE * kg * cin, t -> {
            int p0 = t * TILE, rows = Math.min(TILE, p - p0);
            double[] gath = new double[rows * kg];
            for (int r = 0; r < rows; r++) {
                int pix = p0 + r;
                int ix = pix % g.w(), iy = (pix / g.w()) % g.h(), n = pix / (g.w() * g.h());
                for (int ky = 0; ky < g.kh(); ky++) {
                    int ny = iy + s.padTop() - ky;
                    int oy = Math.floorDiv(ny, s.strideH());
                    boolean rowOk = ny >= 0 && ny % s.strideH() == 0 && oy < ho;
                    for (int kx = 0; kx < g.kw(); kx++) {
                        int nx = ix + s.padLeft() - kx;
                        int ox = Math.floorDiv(nx, s.strideW());
                        if (rowOk && nx >= 0 && nx % s.strideW() == 0 && ox < wo)
                            System.arraycopy(gy, ((n * ho + oy) * wo + ox) * cout, gath, r * kg + (ky * g.kw() + kx) * cout, cout);
                    }
                }
            }
            CpuGemm.gemmSerial(rows, cin, kg, gath, 0, wr, 0, gx, p0 * cin);
        });
        return gx;
    }

    /** gw (Cout, KK) = gy^T (Cout, P) x im2col(x) (P, KK), parallel over blocks of output channels. */
    static double[] backwardWeight(ConvGeometry g, double[] gy, double[] x) {
        int p = g.n() * g.ho() * g.wo(), kk = g.kk(), cout = g.cout();
        double[] gw = new double[cout * kk];
        int blocks = (cout + CO_BLOCK - 1) / CO_BLOCK;
        Parallel.forEach(blocks, (long) CO_BLOCK * p * kk, b -> {
            int c0 = b * CO_BLOCK, cb = Math.min(CO_BLOCK, cout - c0);
            double[] cols = new double[TILE * kk];
            double[] gyT = new double[cb * TILE];
            double[] part = new double[cb * kk];
            for (int p0 = 0; p0 < p; p0 += TILE) {
                int rows = Math.min(TILE, p - p0);
                im2col(g, x, p0, rows, cols);
                for (int c = 0; c < cb; c++)
                    for (int r = 0; r < rows; r++) gyT[c * rows + r] = gy[(p0 + r) * cout + c0 + c];
                CpuGemm.gemmSerial(cb, kk, rows, gyT, 0, cols, 0, part, 0);
            }
            System.arraycopy(part, 0, gw, c0 * kk, cb * kk);
        });
        return gw;
    }
}
