package dev.puppetengine.backend.cpu;

import java.util.Arrays;

/**
 * The CPU matrix product: C (M x N) (+)= A (M x K) B (K x N), row-major double arrays with offsets. Blocked
 * so a K-by-N panel of B stays in cache while rows of A stream past; the inner loop is an axpy over a row of
 * B (four rows of B at a time), which the JIT vectorises. Each C element's sum runs over k in the same fixed
 * order (blocks of four, ascending) whatever the thread split.
 */
final class CpuGemm {
    private CpuGemm() {}

    private static final int ROWS = 16, KB = 128, NB = 512;

    /** Splits rows of C across cores. */
    static void gemm(int m, int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff, boolean accumulate) {
        int tasks = (m + ROWS - 1) / ROWS;
        Parallel.forEach(tasks, (long) ROWS * n * k,
                t -> rows(t * ROWS, Math.min(m, t * ROWS + ROWS), n, k, a, aOff, b, bOff, c, cOff, accumulate));
    }

    /** The same product on the calling thread (for callers that already run one task per core). */
    static void gemmSerial(int m, int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff, boolean accumulate) {
        rows(0, m, n, k, a, aOff, b, bOff, c, cOff, accumulate);
    }

    private static void rows(int i0, int i1, int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff, boolean accumulate) {
        if (!accumulate) for (int i = i0; i < i1; i++) Arrays.fill(c, cOff + i * n, cOff + i * n + n, 0.0);
        for (int j0 = 0; j0 < n; j0 += NB) {
            int j1 = Math.min(n, j0 + NB);
            for (int p0 = 0; p0 < k; p0 += KB) {
                int p1 = Math.min(k, p0 + KB);
                int i = i0;
                for (; i + 1 < i1; i += 2) {               // two rows of C share every load of B
                    int c0 = cOff + i * n, c1 = c0 + n, a0 = aOff + i * k, a1 = a0 + k;
                    int p = p0;
                    for (; p + 3 < p1; p += 4) {
                        double x0 = a[a0 + p], x1 = a[a0 + p + 1], x2 = a[a0 + p + 2], x3 = a[a0 + p + 3];
                        double y0 = a[a1 + p], y1 = a[a1 + p + 1], y2 = a[a1 + p + 2], y3 = a[a1 + p + 3];
                        int b0 = bOff + p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
                        for (int j = j0; j < j1; j++) {
                            double v0 = b[b0 + j], v1 = b[b1 + j], v2 = b[b2 + j], v3 = b[b3 + j];
                            c[c0 + j] += x0 * v0 + x1 * v1 + x2 * v2 + x3 * v3;
                            c[c1 + j] += y0 * v0 + y1 * v1 + y2 * v2 + y3 * v3;
                        }
                    }
                    for (; p < p1; p++) {
                        double x = a[a0 + p], y = a[a1 + p];
                        int bp = bOff + p * n;
                        for (int j = j0; j < j1; j++) {
                            c[c0 + j] += x * b[bp + j];
                            c[c1 + j] += y * b[bp + j];
                        }
                    }
                }
                for (; i < i1; i++) {
                    int ci = cOff + i * n, ai = aOff + i * k;
                    int p = p0;
                    for (; p + 3 < p1; p += 4) {
                        double a0 = a[ai + p], a1 = a[ai + p + 1], a2 = a[ai + p + 2], a3 = a[ai + p + 3];
                        int b0 = bOff + p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
                        for (int j = j0; j < j1; j++) c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
                    }
                    for (; p < p1; p++) {
                        double av = a[ai + p];
                        int bp = bOff + p * n;
                        for (int j = j0; j < j1; j++) c[ci + j] += av * b[bp + j];
                    }
                }
            }
        }
    }
}
