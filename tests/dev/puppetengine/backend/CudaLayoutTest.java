package dev.puppetengine.backend;

import dev.puppetengine.backend.cuda.CudaBackend;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Layout struct every strided kernel decodes (kernels/common.cuh offsets()): after dropping size-1 dims and
 * merging contiguous ones it must give every operand the same element offsets as the original shape and strides.
 * Pure Java, so it runs without a GPU.
 */
class CudaLayoutTest {

    /** kernels/common.cuh offsets(), transcribed. */
    private static long[] offsets(long[] L, long i) {
        long[] o = new long[3];
        for (int d = (int) L[0] - 1; d >= 0; d--) {
            long s = L[1 + d], c = i % s;
            i /= s;
            for (int k = 0; k < 3; k++) o[k] += c * L[9 + k * 8 + d];
        }
        return o;
    }

    private static long naive(int[] shape, long[] st, long i) {
        long o = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            o += (i % shape[d]) * st[d];
            i /= shape[d];
        }
        return o;
    }

    @Test
    void mergedLayoutsAddressLikeTheOriginal() {
        Random r = new Random(42);
        for (int trial = 0; trial < 500; trial++) {
            int rank = 1 + r.nextInt(6);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(4);
            long[][] st = new long[3][rank];
            for (int k = 0; k < 3; k++) {
                int mode = r.nextInt(3);      // contiguous, broadcast some dims, permuted-ish random strides
                long acc = 1;
                for (int d = rank - 1; d >= 0; d--) {
                    st[k][d] = mode == 0 ? acc : mode == 1 ? (r.nextBoolean() ? 0 : acc) : 1 + r.nextInt(50);
                    acc *= shape[d];
                }
            }
            long[] L = CudaBackend.layout(shape, st[0], st[1], st[2]);
            assertTrue(L[0] <= rank);
            long n = 1;
            for (int s : shape) n *= s;
            long m = 1;
            for (int d = 0; d < L[0]; d++) m *= L[1 + d];
            assertEquals(n, m, "merged sizes keep the element count");
            for (long i = 0; i < n; i++) {
                long[] o = offsets(L, i);
                for (int k = 0; k < 3; k++) assertEquals(naive(shape, st[k], i), o[k], "operand " + k + " element " + i + " trial " + trial);
            }
        }
    }

    @Test
    void contiguousCollapsesToOneDim() {
        long[] L = CudaBackend.layout(new int[]{3, 5, 7}, new long[]{35, 7, 1}, new long[]{35, 7, 1});
        assertEquals(1, L[0]);
        assertEquals(105, L[1]);
    }

    /**
     * The multi-tensor Adam table in the layout kernels/adam.cu documents (its host check runs the kernel's block
     * mapping over tables built by that rule): block starts ceil(n / chunk) apart, empty tensors sharing their
     * successor's start, the grid size last, then each tensor's 8 words unchanged.
     */
    @Test
    void adamTableLayout() {
        long[] sizes = {0, 5, 4, 0, 1, 8, 0};
        long[][] rows = new long[sizes.length][];
        for (int t = 0; t < sizes.length; t++) rows[t] = new long[]{sizes[t], 100 + t, 200 + t, 300 + t, 400 + t, 0, 1, t % 3};
        long[] w = CudaBackend.adamTable(4, rows);
        assertArrayEquals(new long[]{0, 0, 2, 3, 3, 4, 6, 6}, Arrays.copyOf(w, sizes.length + 1));
        assertEquals(sizes.length + 1 + 8 * sizes.length, w.length);
        for (int t = 0; t < sizes.length; t++)
            assertArrayEquals(rows[t], Arrays.copyOfRange(w, sizes.length + 1 + 8 * t, sizes.length + 9 + 8 * t), "tensor " + t);
        assertArrayEquals(new long[]{0}, CudaBackend.adamTable(4));
    }
}
