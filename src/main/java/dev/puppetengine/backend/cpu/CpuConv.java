package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.ConvGeometry;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.Shape;

/**
 * Channels-last 2-D convolution as tiled im2col + GEMM. x (N, H, W, Cin), weights (Cout, kh, kw, Cin).
 * Every pass is parallel over tiles of the pixels it writes (or over output-channel blocks for the weight
 * gradient) and keeps a fixed summation order, so the results are deterministic. The temporal (3,1,1)
 * convolution is this op with kh = 3, kw = 1 on the (B, F, H*W, C) view.
 */
final class CpuConv {
    private CpuConv() {}

    private static final int TILE = 128, CO_BLOCK = 16;

    /**
     * y (N*Ho*Wo, Cout) = im2col(x) (P, KK) x w^T + bias, computed per pixel tile as (W (Cout, KK) x cols^T (KK, T))^T
     * so the GEMM's inner loop runs over the tile's pixels, long however few channels there are.
     */
    static double[] forward(ConvGeometry g, double[] x, double[] w, double[] bias) {
        double[] y = new double[Shape.numelInt(g.outShape())];   // the clear refusal before p * cout can wrap
        int p = g.n() * g.ho() * g.wo(), kk = g.kk(), cout = g.cout();
        int tiles = (p + TILE - 1) / TILE;
        Parallel.forEach(tiles, (long) TILE * kk * cout, t -> {
            int p0 = t * TILE, rows = Math.min(TILE, p - p0);
            double[] colsT = new double[kk * rows], outT = new double[cout * rows];
            im2col(g, x, p0, rows, colsT, true);
            CpuGemm.gemmSerial(cout, rows, kk, w, 0, colsT, 0, outT, 0);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cout; c++) y[(p0 + r) * cout + c] = outT[c * rows + r] + (bias == null ? 0 : bias[c]);
        });
        return y;
    }

    /**
     * Rows p0..p0+rows of the im2col matrix: per output pixel r, its (ky, kx, ci) patch values (zero outside
     * the input), stored at cols[r * KK + k] or, {@code transposed}, at cols[k * rows + r].
     */
    private static void im2col(ConvGeometry g, double[] x, int p0, int rows, double[] cols, boolean transposed) {
        int ho = g.ho(), wo = g.wo(), cin = g.cin(), kk = g.kk();
        int rowStep = transposed ? 1 : kk, kStep = transposed ? rows : 1;
        ConvSpec s = g.s();
        for (int r = 0; r < rows; r++) {
            int pix = p0 + r;
            int ox = pix % wo, oy = (pix / wo) % ho, n = pix / (wo * ho);
            for (int ky = 0; ky < g.kh(); ky++) {
                int iy = oy * s.strideH() - s.padTop() + ky;
                for (int kx = 0; kx < g.kw(); kx++) {
                    int ix = ox * s.strideW() - s.padLeft() + kx;
                    int dst = r * rowStep + (ky * g.kw() + kx) * cin * kStep;
                    boolean inside = iy >= 0 && iy < g.h() && ix >= 0 && ix < g.w();
                    int src = inside ? ((n * g.h() + iy) * g.w() + ix) * cin : 0;
                    for (int c = 0; c < cin; c++) cols[dst + c * kStep] = inside ? x[src + c] : 0;
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
                im2col(g, x, p0, rows, cols, false);
                for (int c = 0; c < cb; c++)
                    for (int r = 0; r < rows; r++) gyT[c * rows + r] = gy[(p0 + r) * cout + c0 + c];
                CpuGemm.gemmSerial(cb, kk, rows, gyT, 0, cols, 0, part, 0);
            }
            System.arraycopy(part, 0, gw, c0 * kk, cb * kk);
        });
        return gw;
    }
}
