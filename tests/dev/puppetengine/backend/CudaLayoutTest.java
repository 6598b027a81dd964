package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaGemmPlanTest;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
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

    /**
     * kernels/common.cuh offsets(), transcribed: the other dims' indices by fast_div where the Layout has divisors
     * (then i < 2^31), else by division; dim 0 takes what is left of i.
     */
    private static long[] offsets(long[] L, long i) {
        long[] o = new long[3];
        boolean fast = L[33] != 0;
        if (fast) assertTrue(i <= Integer.MAX_VALUE, "index " + i + " of a Layout with divisors");
        for (int d = (int) L[0] - 1; d > 0; d--) {
            long s = L[1 + d], q = fast ? CudaGemmPlanTest.fastDiv(i, L[33 + d]) : i / s, c = i - q * s;
            i = q;
            for (int k = 0; k < 3; k++) o[k] += c * L[9 + k * 8 + d];
        }
        for (int k = 0; k < 3; k++) o[k] += i * L[9 + k * 8];
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

    /**
     * kernels/copy.cu copy16: a same-dtype copy whose Layout inChunks16 rewrote in 16-byte chunks must move exactly
     * the bytes of the element copy (chunk j's offsets, in elements, are those of element j * per on both sides), and
     * anything else must stay on the element copy with its Layout untouched.
     */
    @Test
    void copy16ChunksAddressLikeTheElementCopy() {
        Random r = new Random(7);
        DType[] types = {DType.BF16, DType.F32, DType.F16, DType.F64};
        for (int trial = 0; trial < 300; trial++) {
            DType t = types[r.nextInt(types.length)];
            int per = 16 / t.bytes(), rank = 2 + r.nextInt(3);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(4);
            shape[rank - 1] = per * (1 + r.nextInt(3));
            int[] order = new int[rank - 1];           // src: a contiguous tensor with its outer dims permuted (last dim stays last)
            for (int d = 0; d < rank - 1; d++) order[d] = d;
            for (int d = rank - 2; d > 0; d--) { int j = r.nextInt(d + 1), x = order[d]; order[d] = order[j]; order[j] = x; }
            long[] dst = new long[rank], src = new long[rank];
            long acc = 1;
            for (int d = rank - 1; d >= 0; d--) { dst[d] = acc; acc *= shape[d]; }
            acc = shape[rank - 1];
            src[rank - 1] = 1;
            for (int d = rank - 2; d >= 0; d--) { src[order[d]] = acc; acc *= shape[order[d]]; }
            long[] L = CudaBackend.layout(shape, dst, src);
            long n = acc, chunks = CudaBackend.inChunks16(L, t, 16L * r.nextInt(3) / t.bytes(), 0);
            assertEquals(n / per, chunks, "trial " + trial);
            for (long j = 0; j < chunks; j++) {
                long[] o = offsets(L, j);
                assertEquals(naive(shape, dst, j * per), o[0] * per, "dst chunk " + j + " trial " + trial);
                assertEquals(naive(shape, src, j * per), o[1] * per, "src chunk " + j + " trial " + trial);
            }
        }
        long[] rows7 = CudaBackend.layout(new int[]{5, 7}, new long[]{9, 1}, new long[]{7, 1});       // rows of 7 bf16: 14 bytes
        long[] before = rows7.clone();
        assertEquals(0, CudaBackend.inChunks16(rows7, DType.BF16, 0, 0));
        assertArrayEquals(before, rows7, "a refused Layout stays as it was");
        long[] wide = CudaBackend.layout(new int[]{4, 16}, new long[]{32, 1}, new long[]{16, 1});
        assertEquals(0, CudaBackend.inChunks16(wide.clone(), DType.BF16, 1, 0), "dst starts 2 bytes past 16");
        assertEquals(0, CudaBackend.inChunks16(wide.clone(), DType.BF16, 0, 4), "src starts 8 bytes past 16");
        assertEquals(8, CudaBackend.inChunks16(wide.clone(), DType.BF16, 8, 16));
        long[] strided = CudaBackend.layout(new int[]{4, 16}, new long[]{16, 1}, new long[]{32, 2});  // src's innermost stride 2
        assertEquals(0, CudaBackend.inChunks16(strided, DType.BF16, 0, 0));
    }

    /** film.cu reads gamma and beta in place only where they are rows of C with one stride, the same for both. */
    @Test
    void filmRowStrideOnlyForRowsOfTheLastDim() {
        CpuBackend cpu = CpuBackend.get();
        try (Tensor gb = Tensor.zeros(cpu, DType.BF16, 2, 3, 5, 2 * 8); Tensor full = Tensor.zeros(cpu, DType.BF16, 2, 3, 5, 8);
             Tensor other = Tensor.zeros(cpu, DType.F32, 2, 3, 5, 8); Tensor square = Tensor.zeros(cpu, DType.BF16, 8, 8)) {
            Tensor g = gb.narrow(3, 0, 8), b = gb.narrow(3, 8, 8);
            assertEquals(16, CudaBackend.filmRowStride(g, b, DType.BF16), "channel halves of one tensor: rows 2C apart");
            assertEquals(8, CudaBackend.filmRowStride(full, full, DType.BF16), "contiguous: C");
            assertEquals(-1, CudaBackend.filmRowStride(g, full, DType.BF16), "different row strides");
            assertEquals(-1, CudaBackend.filmRowStride(g, b, DType.F32), "another dtype than the activation's");
            assertEquals(-1, CudaBackend.filmRowStride(other, other, DType.BF16), "gamma of another dtype");
            Tensor tr = square.transpose(0, 1);
            assertEquals(-1, CudaBackend.filmRowStride(tr, tr, DType.BF16), "last dim not contiguous");
            assertEquals(-1, CudaBackend.filmRowStride(null, null, DType.BF16));
        }
    }

    /** Layout.div is given exactly when every index fits 31 bits; both decodings address like the original shape. */
    @Test
    void divisorsOnlyBelow2To31() {
        Random r = new Random(11);
        for (int rows : new int[]{32768, 32769, 65536}) {     // rows * 65535 elements: 2^31 - 2^15, then over 2^31
            int[] shape = {rows, 3, 21845};
            long n = (long) rows * 3 * 21845;
            long[] dst = {3 * 21845, 21845, 1}, src = {1, rows, 3L * rows};   // src transposed: nothing merges
            long[] L = CudaBackend.layout(shape, dst, src);
            assertEquals(3, L[0]);
            boolean small = n < 1L << 31;
            for (int d = 0; d < 8; d++) assertEquals(small && d < 3, L[33 + d] != 0, rows + " rows, divisor " + d);
            long[] is = new long[40];
            for (int k = 0; k < 32; k++) is[k] = r.nextLong(n);
            for (int k = 0; k < 8; k++) is[32 + k] = n - 1 - k * 21845L;
            for (long i : is) {
                long[] o = offsets(L, i);
                assertEquals(naive(shape, dst, i), o[0], rows + " rows, dst element " + i);
                assertEquals(naive(shape, src, i), o[1], rows + " rows, src element " + i);
            }
        }
        long[] scalar = CudaBackend.layout(new int[0], new long[0]);
        assertEquals(0, scalar[0]);
        assertEquals(0, scalar[33], "rank 0: nothing to divide");
        long[] empty = CudaBackend.layout(new int[]{0, 3}, new long[]{3, 1});
        for (int d = 0; d < 8; d++) assertEquals(0, empty[33 + d], "no elements: no divisors (and no exception)");
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
