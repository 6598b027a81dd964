package dev.puppetengine.backend.cpu;

import java.util.Arrays;

/**
 * The CPU matrix product: C (M x N) (+)= A (M x K) B (K x N), row-major double arrays with offsets. Blocked
 * so a K-by-N panel of B stays in cache while rows of A stream past; the inner loop is an axpy over a row of
 * B, which the JIT vectorises. Each C element sums over k in ascending order whatever the thread split.
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
                for (int i = i0; i < i1; i++) {
                    int ci = cOff + i * n, ai = aOff + i * k;
                    for (int p = p0; p < p1; p++) {
                        double av = a[ai + p];
                        int bp = bOff + p * n;
                        for (int j = j0; j < j1; j++) c[ci + j] += av * b[bp + j];
                    }
                }
            }
        }
    }
}
