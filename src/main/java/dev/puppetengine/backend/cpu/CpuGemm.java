package dev.puppetengine.backend.cpu;

/**
 * The CPU matrix product: C (M x N) += A (M x K) B (K x N), row-major double arrays with offsets (callers pass
 * a new, zeroed C for the plain product). Blocked so a K-by-N panel of B stays in cache while rows of A stream
 * past; the inner loop is an axpy over a row of B (four rows of B at a time), which the JIT vectorises. Each C
 * element's sum runs over k in the same fixed order (blocks of four, ascending) whatever the thread split.
 */
final class CpuGemm {
    private CpuGemm() {}

    private static final int ROWS = 16, KB = 128, NB = 512;

    /** Per thread: the panel of B (KB rows) then two rows of C, reused (allocating them per call cost ~6%). */
    private static final ThreadLocal<double[][]> SCRATCH = ThreadLocal.withInitial(() -> new double[KB + 2][NB]);

    /** Splits rows of C across cores. */
    static void gemm(int m, int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff) {
        int tasks = (m + ROWS - 1) / ROWS;
        Parallel.forEach(tasks, (long) ROWS * n * k, t -> {
            int i0 = t * ROWS;
            gemmSerial(Math.min(ROWS, m - i0), n, k, a, aOff + i0 * k, b, bOff, c, cOff + i0 * n);
        });
    }

    /**
     * The same product on the calling thread (for callers that already run one task per core). The panel of B
     * and the rows of C being summed are copied into arrays of their own, indexed from 0: C2 (JDK 17) does not
     * vectorise a loop over arrays read at different runtime offsets. (Measured, not understood: with an extra
     * boolean parameter here, e.g. an accumulate flag, C2 left quad's loop scalar again.)
     */
    static void gemmSerial(int m, int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff) {
        double[][] panel = SCRATCH.get();
        double[] r0 = panel[KB], r1 = panel[KB + 1];
        for (int j0 = 0; j0 < n; j0 += NB) {
            int w = Math.min(n - j0, NB);
            for (int p0 = 0; p0 < k; p0 += KB) {
                int p1 = Math.min(k, p0 + KB);
                for (int p = p0; p < p1; p++) System.arraycopy(b, bOff + p * n + j0, panel[p - p0], 0, w);
                int i = 0;
                for (; i + 1 < m; i += 2) {                // two rows of C share every load of B
                    int c0 = cOff + i * n + j0, c1 = c0 + n, a0 = aOff + i * k, a1 = a0 + k;
                    System.arraycopy(c, c0, r0, 0, w);
                    System.arraycopy(c, c1, r1, 0, w);
                    int p = p0;
                    for (; p + 3 < p1; p += 4)
                        quad(r0, r1, panel[p - p0], panel[p - p0 + 1], panel[p - p0 + 2], panel[p - p0 + 3],
                                a[a0 + p], a[a0 + p + 1], a[a0 + p + 2], a[a0 + p + 3], a[a1 + p], a[a1 + p + 1], a[a1 + p + 2], a[a1 + p + 3], w);
                    for (; p < p1; p++) {
                        double x = a[a0 + p], y = a[a1 + p];
                        double[] v = panel[p - p0];
                        for (int j = 0; j < w; j++) { r0[j] += x * v[j]; r1[j] += y * v[j]; }
                    }
                    System.arraycopy(r0, 0, c, c0, w);
                    System.arraycopy(r1, 0, c, c1, w);
                }
                for (; i < m; i++) {
                    int ci = cOff + i * n + j0, ai = aOff + i * k;
                    System.arraycopy(c, ci, r0, 0, w);
                    int p = p0;
                    for (; p + 3 < p1; p += 4) {
                        double a0 = a[ai + p], a1 = a[ai + p + 1], a2 = a[ai + p + 2], a3 = a[ai + p + 3];
                        double[] b0 = panel[p - p0], b1 = panel[p - p0 + 1], b2 = panel[p - p0 + 2], b3 = panel[p - p0 + 3];
                        for (int j = 0; j < w; j++) r0[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
                    }
                    for (; p < p1; p++) {
                        double av = a[ai + p];
                        double[] v = panel[p - p0];
                        for (int j = 0; j < w; j++) r0[j] += av * v[j];
                    }
                    System.arraycopy(r0, 0, c, ci, w);
                }
            }
        }
    }

    /**
     * r0 += (x0..x3) . (b0..b3) and r1 += (y0..y3) . (b0..b3): two rows of C share every load of B. A method of
     * its own, given A's values: C2 vectorises it so (~30 GFLOP/s a core here, ~12 inside the loop nest above).
     */
    private static void quad(double[] r0, double[] r1, double[] b0, double[] b1, double[] b2, double[] b3,
                             double x0, double x1, double x2, double x3, double y0, double y1, double y2, double y3, int w) {
        for (int j = 0; j < w; j++) {
            double v0 = b0[j], v1 = b1[j], v2 = b2[j], v3 = b3[j];
            r0[j] += x0 * v0 + x1 * v1 + x2 * v2 + x3 * v3;
            r1[j] += y0 * v0 + y1 * v1 + y2 * v2 + y3 * v3;
        }
    }
}
