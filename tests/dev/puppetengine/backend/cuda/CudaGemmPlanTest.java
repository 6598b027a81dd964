package dev.puppetengine.backend.cuda;

import dev.puppetengine.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which products the tensor-core GEMM takes (CudaGemm.mmaPlan): the layouts the engine's forward and backward
 * products really have, and the refusals that keep every 16-byte copy whole and aligned. Pure Java, no GPU.
 */
public class CudaGemmPlanTest {
    private static CudaGemm.Mat mat(DType t, long rs, long cs, long bs) { return new CudaGemm.Mat(null, t, rs, cs, bs); }

    private static CudaGemm.MmaPlan plan(int batch, int m, int n, int k, CudaGemm.Operand a, CudaGemm.Operand b) {
        return CudaGemm.mmaPlan(batch, m, n, k, a, 0, b, 0);
    }

    /** The entry point and each side's (ld, rows, cols, gather) as the kernel will read them. */
    private static String describe(CudaGemm.MmaPlan p) {
        return p == null ? "none" : p.kind() + " a" + side(p.a()) + " b" + side(p.b());
    }

    private static String side(long[] s) { return "(ld " + s[0] + ", " + s[2] + "x" + s[3] + (s[4] != 0 ? ", im2col" : "") + ")"; }

    @Test
    void theEnginesProductsGetTheirLayouts() {
        DType t = DType.BF16;
        int rows = 2 * 14 * 32 * 32, cin = 320, cout = 640;
        // linear / conv forward: x (rows, Cin) times the (Cin, Cout) view of w (Cout, Cin): both K-major
        assertEquals("bf16_kk a(ld 320, 28672x320) b(ld 320, 640x320)", describe(plan(1, rows, cout, cin, mat(t, cin, 1, 0), mat(t, 1, cin, 0))));
        // backward input: gy (rows, Cout) times w (Cout, Cin) as stored: B N-major
        assertEquals("bf16_kn a(ld 640, 28672x640) b(ld 320, 640x320)", describe(plan(1, rows, cin, cout, mat(t, cout, 1, 0), mat(t, cin, 1, 0))));
        // backward weight: gy^T (Cout, rows) times x (rows, Cin): A M-major, B N-major
        assertEquals("bf16_mn a(ld 640, 28672x640) b(ld 320, 28672x320)", describe(plan(1, cout, cin, rows, mat(t, 1, cout, 0), mat(t, cin, 1, 0))));
        // f16, A M-major with B K-major, batched with aligned batch strides
        assertEquals("f16_mk a(ld 64, 40x64) b(ld 40, 16x40)", describe(plan(3, 64, 16, 40, mat(DType.F16, 1, 64, 64 * 40), mat(DType.F16, 1, 40, 40 * 16))));
    }

    @Test
    void cublasIsOfferedOnlyProductsItCanTake() {
        DType t = DType.BF16;
        int m = 448, n = 1280, k = 320;
        // the engine's three layouts (forward, backward input, backward weight) into a row-major C, or an fp32 temporary
        assertTrue(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, 1, k, 0), mat(t, n, 1, 0)));
        assertTrue(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, n, 1, 0), null));
        assertTrue(CudaGemm.cublasTakes(m, n, k, mat(t, 1, m, 0), mat(t, n, 1, 0), mat(DType.F32, n, 1, 0)));
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(DType.F16, n, 1, 0), null), "mixed dtypes");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(DType.F64, k, 1, 0), mat(DType.F64, n, 1, 0), null), "no f64 GEMM through the Ex call");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, n, 1, 0), mat(t, 1, m, 0)), "C column-major: not this row-major call");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, 2 * k, 2, 0), mat(t, n, 1, 0), null), "A strided in both directions: not BLAS-shaped");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, 2 * n, 2, 0), null), "B strided in both directions");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, n, 1, 0), mat(t, 2 * n, 2, 0)), "C strided in both directions");
        assertTrue(CudaGemm.cublasTakes(m, n, k, mat(DType.F32, k, 1, 0), mat(DType.F32, n, 1, 0), mat(DType.F32, n, 1, 0)), "fp32 (CUDA_R_32F is 0)");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, n, 1, 0), mat(DType.F64, n, 1, 0)), "an f64 C");
        // a stride never stepped does not count: k = 1 (A's column stride), m = 1 (A's row stride, any below k, or a
        // single row read with a column stride, as a column of a wider matrix)
        assertTrue(CudaGemm.cublasTakes(m, n, 1, mat(t, 1, 3, 0), mat(t, n, 1, 0), null), "an outer product");
        assertTrue(CudaGemm.cublasTakes(1, n, k, mat(t, 5, 1, 0), mat(t, n, 1, 0), mat(t, n, 1, 0)), "one row, row stride 5");
        assertTrue(CudaGemm.cublasTakes(1, n, k, mat(t, 999, 8, 0), mat(t, n, 1, 0), mat(t, n, 1, 0)), "one row, column stride 8");
        // leading dimensions are ints in the cublasGemmStridedBatchedEx call
        long max = Integer.MAX_VALUE;
        assertTrue(CudaGemm.cublasTakes(m, n, k, mat(t, max, 1, 0), mat(t, max, 1, 0), mat(t, max, 1, 0)));
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, max + 1, 1, 0), mat(t, n, 1, 0), null), "lda past int");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, max + 1, 1, 0), null), "ldb past int");
        assertFalse(CudaGemm.cublasTakes(m, n, k, mat(t, k, 1, 0), mat(t, n, 1, 0), mat(t, max + 1, 1, 0)), "ldc past int");
    }

    @Test
    void convolutionsGatherTheirColumnMatrix() {
        DType t = DType.BF16;
        // 3x3 pad 1 over (2, 32, 32, 320): forward gathers A (K-major), the weight gradient gathers B (N-major)
        CudaGemm.Im2col x = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 32, 32, 320, 3, 3, 32, 32, 1, 1, 1, 1);
        long p = x.pixels(), kk = x.cols();
        assertEquals("bf16_kk a(ld 0, 2048x2880, im2col) b(ld 2880, 640x2880)",
                describe(plan(1, (int) p, 640, (int) kk, x, mat(t, 1, kk, 0))));
        assertEquals("bf16_mn a(ld 640, 2048x640) b(ld 0, 2048x2880, im2col)",
                describe(plan(1, 640, (int) kk, (int) p, mat(t, 1, 640, 0), x)));
        // pixels == kh * kw * Cin (3x3, 64 channels, one 24x24 image: 576 each): the gather's side fixes its layout,
        // where its sizes alone would fit either (a K-major B here is the transposed, wrong, weight gradient)
        CudaGemm.Im2col sq = new CudaGemm.Im2col(null, t, 24 * 24, 24, 24, 64, 3, 3, 24, 24, 1, 1, 1, 1);
        assertEquals(sq.pixels(), sq.cols());
        assertEquals("bf16_kk", plan(1, 576, 40, 576, sq, mat(t, 1, 576, 0)).kind());
        assertEquals("bf16_mn", plan(1, 40, 576, 576, mat(t, 1, 40, 0), sq).kind());
        // stride-1 backward input: gy (2, 32, 32, 640) gathered with pad kh-1-1, times the flipped weights (9*640, 320) N-major
        CudaGemm.Im2col gy = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 32, 32, 640, 3, 3, 32, 32, 1, 1, 1, 1);
        assertEquals("bf16_kn a(ld 0, 2048x5760, im2col) b(ld 320, 5760x320)",
                describe(plan(1, (int) gy.pixels(), 320, (int) gy.cols(), gy, mat(t, 320, 1, 0))));
        // stride-2 backward input (a downsampler's): gy (2, 16, 16, 640) read dilated by 2, the output dx 32x32
        CudaGemm.Im2col gy2 = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 16, 16, 640, 3, 3, 32, 32, 1, 1, 1, 1, 2, 2);
        CudaGemm.MmaPlan down = plan(1, (int) gy2.pixels(), 320, (int) gy2.cols(), gy2, mat(t, 320, 1, 0));
        assertEquals("bf16_kn a(ld 0, 2048x5760, im2col) b(ld 320, 5760x320)", describe(down));
        assertEquals("[16, 16, 640, 3, 32, 32, 1, 1, 1, 1, 2, 2]", Arrays.toString(Arrays.copyOfRange(down.a(), 5, 17)),
                "gemm_tile.cuh's Operand struct: gy's size, the gather's geometry, the dilation last");
        assertEquals(CudaGemm.OPERAND_FIELDS, down.a().length);
        assertArrayEquals(new long[]{CudaGemm.fastDivisor(640), CudaGemm.fastDivisor(3), CudaGemm.fastDivisor(32), CudaGemm.fastDivisor(32),
                        CudaGemm.fastDivisor(2), CudaGemm.fastDivisor(2)},
                Arrays.copyOfRange(down.a(), 17, 23), "then the divisors of Cin, kw, Wo, Ho and the dilation");
        assertEquals(CudaGemm.OPERAND_FIELDS, down.b().length, "a dense struct is as long, its gather fields zero");
        assertNull(CudaGemm.tmaPlan(down, true, 128, 1, CudaGemm.Epilogue.NONE), "TMA's im2col mode cannot dilate: cp.async");
        assertNull(plan(1, 320, (int) gy2.cols(), (int) gy2.pixels(), mat(t, 1, 320, 0), gy2), "a dilated gather as B: no k loop reads one");
        CudaGemm.Im2col wide = new CudaGemm.Im2col(null, t, 16384, 1, 16384, 64, 1, 3, 1, 16384, 1, 1, 0, 1);
        assertNull(plan(1, 16384, 64, (int) wide.cols(), wide, mat(t, 1, wide.cols(), 0)), "16384 pixels wide: past GatherRow's 16-bit corner");
        CudaGemm.Im2col narrower = new CudaGemm.Im2col(null, t, 16383, 1, 16383, 64, 1, 3, 1, 16383, 1, 1, 0, 1);
        assertNotNull(plan(1, 16383, 64, (int) narrower.cols(), narrower, mat(t, 1, narrower.cols(), 0)));
        assertNull(plan(1, 576, 576, 576, sq, sq), "two gathered operands: no kernel k loop takes both");
        CudaGemm.Im2col odd = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 32, 32, 4, 3, 3, 32, 32, 1, 1, 1, 1);
        assertNull(plan(1, (int) odd.pixels(), 640, (int) odd.cols(), odd, mat(t, 1, odd.cols(), 0)), "Cin 4: a 16-byte copy would straddle taps");
        assertNull(plan(2, (int) x.pixels(), 640, (int) kk, x, mat(t, 1, kk, 8)), "a gather has no batch: its images are its rows");
        // dilated in one direction only, as B: refused as well
        for (int[] d : new int[][]{{2, 1}, {1, 2}}) {
            CudaGemm.Im2col g = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 16, 16, 640, 3, 3, 32, 32, 1, 1, 1, 1, d[0], d[1]);
            assertNull(plan(1, 320, (int) g.cols(), (int) g.pixels(), mat(t, 1, 320, 0), g), "dilation " + d[0] + "x" + d[1] + " as B");
        }
        // a gather whose pixels or columns are not the product's is a caller's error, not a refusal
        assertTrue(assertThrows(IllegalArgumentException.class, () -> plan(1, (int) p - 8, 640, (int) kk, x, mat(t, 1, kk, 0)))
                .getMessage().contains("does not fit A as (M = pixels) x K: 2040 x 2880"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> plan(1, 640, (int) kk, (int) p + 8, mat(t, 1, 640, 0), x))
                .getMessage().contains("does not fit B as (K = pixels) x N: 2880 x 2056"));
    }

    @Test
    void convolutionsAlikeInMnkTuneApart() {
        DType t = DType.BF16;
        // 3x3 stride 1 over 32 channels: pad 1 on 32x32 and pad 0 on 34x34 both give 1024 pixels of 288 columns
        CudaGemm.Im2col pad1 = new CudaGemm.Im2col(null, t, 32 * 32, 32, 32, 32, 3, 3, 32, 32, 1, 1, 1, 1);
        CudaGemm.Im2col pad0 = new CudaGemm.Im2col(null, t, 32 * 32, 34, 34, 32, 3, 3, 32, 32, 1, 1, 0, 0);
        CudaGemm.Mat w = mat(t, 1, pad1.cols(), 0);
        String a = key(pad1, w), b = key(pad0, w);
        assertEquals("bf16_kk m=1024 n=64 k=288 batch=1 conv 3x3 s1x1 p1x1 in32x32 out32x32 c=BF16 +cublas", a);
        assertFalse(a.equals(b), "one tile choice for both: " + b);
        CudaGemm.Im2col dilated = new CudaGemm.Im2col(null, t, 32 * 32, 32, 32, 32, 3, 3, 32, 32, 1, 1, 1, 1, 2, 2);
        assertFalse(key(pad1, w).equals(key(dilated, w)), "dilation 2 gathers other taps");
        assertEquals("3x3 s1x1 p1x1 d1x2 in32x32 out32x32",
                new CudaGemm.Im2col(null, t, 32 * 32, 32, 32, 32, 3, 3, 32, 32, 1, 1, 1, 1, 1, 2).tuneKey(), "dilated across only");
        // a stride-2 convolution's input gradient into 32x31 and into 31x32 images: the same 16x16 gradient read dilated,
        // the same padding at the top and left, as many pixels
        CudaGemm.Im2col wide = new CudaGemm.Im2col(null, t, 32 * 31, 16, 16, 32, 3, 3, 32, 31, 1, 1, 1, 1, 2, 2);
        CudaGemm.Im2col tall = new CudaGemm.Im2col(null, t, 31 * 32, 16, 16, 32, 3, 3, 31, 32, 1, 1, 1, 1, 2, 2);
        assertFalse(key(wide, w).equals(key(tall, w)), "one tile choice for both: " + key(tall, w));
        // the weight gradient's gathered B: the same shape words after "dW"
        CudaGemm.Mat gy = mat(t, 1, 64, 0);
        CudaGemm.MmaPlan dw = plan(1, 64, (int) pad1.cols(), 1024, gy, pad1);
        assertEquals("bf16_mn m=64 n=288 k=1024 batch=1 dW 3x3 s1x1 p1x1 in32x32 out32x32 c=F32 +bias",
                CudaGemm.tuneKey(dw, 1, 64, 288, 1024, gy, pad1, DType.F32, CudaGemm.Epilogue.of(new CudaGemm.Bias(null, t), null), false));
        // a dense product: the GEGLU gate and a residual are words of their own (cuBLAS finishes either in a second pass)
        CudaGemm.Mat x = mat(t, 64, 1, 0);
        CudaGemm.MmaPlan lin = plan(1, 128, 64, 64, x, gy);
        assertEquals("bf16_kk m=128 n=64 k=64 batch=1 geglu c=BF16",
                CudaGemm.tuneKey(lin, 1, 128, 64, 64, x, gy, t, new CudaGemm.Epilogue(null, null, true), false));
        assertEquals("bf16_kk m=128 n=64 k=64 batch=1 c=BF16 +res +cublas",
                CudaGemm.tuneKey(lin, 1, 128, 64, 64, x, gy, t, CudaGemm.Epilogue.of(null, mat(DType.F32, 64, 1, 0)), true));
    }

    private static String key(CudaGemm.Im2col x, CudaGemm.Mat w) {
        int m = (int) x.pixels(), k = (int) x.cols();
        return CudaGemm.tuneKey(plan(1, m, 64, k, x, w), 1, m, 64, k, x, w, x.dtype(), CudaGemm.Epilogue.NONE, true);
    }

    /** n / d as the kernels compute it from CudaGemm.fastDivisor(d) (kernels/common.cuh: fast_div). CudaLayoutTest uses it too. */
    public static long fastDiv(long n, long f) {
        long hi = (n * (f & 0xffffffffL)) >>> 32;
        return (hi + n) >>> (f >>> 32);
    }

    @Test
    void fastDivisorsDivideExactlyBelow2To31() {
        // the same constants kernels/check/gemm_mma_host_check.cu expects of gemm_tile.cuh's fast_divisor
        assertEquals(1L, CudaGemm.fastDivisor(1));
        assertEquals(1431655766L | 2L << 32, CudaGemm.fastDivisor(3));
        assertEquals(2576980378L | 9L << 32, CudaGemm.fastDivisor(320));
        assertEquals(1L | 6L << 32, CudaGemm.fastDivisor(64));
        Random r = new Random(7);
        long max = (1L << 31) - 1;
        for (long d = 1; d <= 3000; d++) check(d, max, r);
        for (long d : new long[]{9 * 2560, 65535, 917504, 1L << 20, (1L << 31) - 1, 1L << 31}) check(d, max, r);
        assertThrows(IllegalArgumentException.class, () -> CudaGemm.fastDivisor(0));
        assertThrows(IllegalArgumentException.class, () -> CudaGemm.fastDivisor((1L << 31) + 1));
    }

    private static void check(long d, long max, Random r) {
        long f = CudaGemm.fastDivisor(d);
        long[] ns = new long[64];
        for (int i = 0; i < 32; i++) ns[i] = r.nextLong(max + 1);
        for (int i = 0; i < 8; i++) {   // around multiples of d, low and at the top of the range
            long q = i < 4 ? i + 1 : max / d - (i - 4);
            ns[32 + 3 * i] = q * d - 1;
            ns[33 + 3 * i] = q * d;
            ns[34 + 3 * i] = q * d + 1;
        }
        ns[56] = 0;
        ns[57] = max;
        for (long n : ns)
            if (n >= 0 && n <= max) assertEquals(n / d, fastDiv(n, f), n + " / " + d);
    }

    @Test
    void tmaMapsFollowEachOperandsLayout() {
        DType t = DType.BF16;
        int rows = 2 * 14 * 32 * 32, cin = 320, cout = 640;
        // backward input (A K-major (rows, Cout), B N-major: w (Cout, Cin) as stored), 128x256 tile
        CudaGemm.MmaPlan p = plan(1, rows, cin, cout, mat(t, cout, 1, 0), mat(t, cin, 1, 0));
        TensorMaps.Plan a = (TensorMaps.Plan) CudaGemm.tmaPlan(p, true, 128, 1, CudaGemm.Epilogue.NONE), b = (TensorMaps.Plan) CudaGemm.tmaPlan(p, false, 256, 1, CudaGemm.Epilogue.NONE);
        assertEquals("[640, 28672] [1280] [64, 128]", Arrays.toString(a.dims()) + " " + Arrays.toString(a.strideBytes()) + " " + Arrays.toString(a.box()));
        assertEquals("[320, 640] [640] [64, 64]", Arrays.toString(b.dims()) + " " + Arrays.toString(b.strideBytes()) + " " + Arrays.toString(b.box()));
        // a conv forward: the gathered A has an im2col map, the weights a tiled one; an 8-channel gather none
        CudaGemm.Im2col x = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 32, 32, 320, 3, 3, 32, 32, 1, 1, 1, 1);
        CudaGemm.MmaPlan conv = plan(1, (int) x.pixels(), 640, (int) x.cols(), x, mat(t, 1, x.cols(), 0));
        assertEquals(TensorMaps.IM2COL, CudaGemm.tmaPlan(conv, true, 128, 1, CudaGemm.Epilogue.NONE).mode());
        assertEquals(2, CudaGemm.tmaPlan(conv, false, 128, 1, CudaGemm.Epilogue.NONE).mode());
        // a GEGLU product's B is read in interleaved runs of 8: cp.async only; its A still has a map
        CudaGemm.Epilogue geglu = new CudaGemm.Epilogue(null, null, true);
        assertNull(CudaGemm.tmaPlan(p, false, 256, 1, geglu));
        assertEquals(2, CudaGemm.tmaPlan(p, true, 128, 1, geglu).mode());
        // a strided batch (CudaGemm.validate's): A per entry, a rank-3 map whose third dim walks the batch stride;
        // B shared by every entry (batch stride 0), a rank-2 map
        CudaGemm.MmaPlan batched = plan(2, 136, 200, 72, mat(t, 72, 1, 136 * 72), mat(t, 200, 1, 0));
        TensorMaps.Plan a3 = (TensorMaps.Plan) CudaGemm.tmaPlan(batched, true, 128, 2, CudaGemm.Epilogue.NONE);
        assertEquals("3 [72, 136, 2] [144, 19584] [64, 128, 1]", a3.mode() + " " + Arrays.toString(a3.dims()) + " "
                + Arrays.toString(a3.strideBytes()) + " " + Arrays.toString(a3.box()));
        assertEquals(2, CudaGemm.tmaPlan(batched, false, 128, 2, CudaGemm.Epilogue.NONE).mode());
        CudaGemm.Im2col in = new CudaGemm.Im2col(null, t, 2 * 32 * 32, 32, 32, 8, 3, 3, 32, 32, 1, 1, 1, 1);
        assertNull(CudaGemm.tmaPlan(plan(1, (int) in.pixels(), 320, (int) in.cols(), in, mat(t, 1, in.cols(), 0)), true, 128, 1, CudaGemm.Epilogue.NONE));
    }

    /** The epilogue's arguments as kernels/epilogue.cuh reads them, dtype codes as kernels/common.cuh numbers them. */
    @Test
    void epiloguesCheckTheirPartsAndPassThemOn() {
        CudaGemm.Mat r = mat(DType.F16, 640, 1, 640 * 448);
        CudaGemm.Epilogue ep = CudaGemm.Epilogue.of(new CudaGemm.Bias(null, DType.BF16), r);
        assertTrue(ep.any());
        assertEquals("[null, 2, 640, 1, 286720]", Arrays.toString(ep.residualArgs()));
        assertEquals("[null, 1]", Arrays.toString(ep.biasArgs()));
        assertFalse(CudaGemm.Epilogue.NONE.any());
        assertEquals("[null, 0, 0, 0, 0]", Arrays.toString(CudaGemm.Epilogue.NONE.residualArgs()));
        assertEquals("[null, 0]", Arrays.toString(CudaGemm.Epilogue.NONE.biasArgs()));
        assertTrue(new CudaGemm.Epilogue(null, null, true).any());
        assertTrue(CudaGemm.Epilogue.of(null, mat(DType.F32, 640, 1, 0)).any());
        assertEquals(0, CudaGemm.Epilogue.of(null, mat(DType.F32, 640, 1, 0)).residualArgs()[1]);
        assertTrue(CudaGemm.Epilogue.of(new CudaGemm.Bias(null, DType.F32), null).any());
        assertEquals("[null, 1, 640, 1, 0]", Arrays.toString(CudaGemm.Epilogue.of(null, mat(DType.BF16, 640, 1, 0)).residualArgs()));
        assertThrows(IllegalArgumentException.class, () -> new CudaGemm.Epilogue(null, r, true), "GEGLU takes no residual");
        assertThrows(IllegalArgumentException.class, () -> CudaGemm.Epilogue.of(null, mat(DType.F64, 640, 1, 0)));
    }

    @Test
    void dimensionsStopWhereTheKernels32BitTileArithmeticWouldWrap() {
        // (m + 127) / 128 and blockIdx.x * 128 in int: a conv with 2^31 - 1 output pixels passed the old check and got
        // a negative grid, which launch() then skipped without an error
        assertEquals(CudaGemm.MAX_DIM, CudaGemm.dim(CudaGemm.MAX_DIM, "rows"));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> CudaGemm.dim(Integer.MAX_VALUE, "cuda conv2d: output pixels (N x Ho x Wo)"));
        assertTrue(e.getMessage().startsWith("cuda conv2d: output pixels (N x Ho x Wo): 2147483647 > "), e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> CudaGemm.dim(3L << 31, "cuda linear: rows of x"));
    }

    @Test
    void refusesWhatWouldBreakA16ByteCopy() {
        DType t = DType.BF16;
        assertNull(plan(1, 64, 64, 60, mat(t, 60, 1, 0), mat(t, 1, 60, 0)), "K not a multiple of 8 with K-major operands");
        assertNull(plan(1, 64, 64, 64, mat(t, 68, 1, 0), mat(t, 1, 64, 0)), "row stride not a multiple of 8");
        assertNull(plan(1, 60, 64, 64, mat(t, 1, 64, 0), mat(t, 1, 64, 0)), "M-major A with M not a multiple of 8");
        assertNull(plan(1, 64, 64, 64, mat(t, 3, 2, 0), mat(t, 1, 64, 0)), "neither stride 1");
        assertNull(plan(2, 64, 64, 64, mat(t, 64, 1, 4100), mat(t, 1, 64, 4096)), "batch stride not a multiple of 8");
        assertNull(CudaGemm.mmaPlan(1, 64, 64, 64, mat(t, 64, 1, 0), 8, mat(t, 1, 64, 0), 0), "A's address 8 bytes past alignment");
        assertNull(plan(1, 64, 64, 64, mat(DType.F32, 64, 1, 0), mat(DType.F32, 1, 64, 0)), "fp32 operands");
        assertNull(plan(1, 64, 64, 64, mat(t, 64, 1, 0), mat(DType.F16, 1, 64, 0)), "mixed bf16 / f16");
        assertNull(plan(70000, 64, 64, 64, mat(t, 64, 1, 4096), mat(t, 1, 64, 4096)), "more batches than a grid's z");
        assertNull(CudaGemm.mmaPlan(1, 64, 64, 64, mat(t, 64, 1, 0), 0, mat(t, 1, 64, 0), 8), "B's address 8 bytes past alignment");
        assertNotNull(CudaGemm.mmaPlan(1, 64, 64, 64, mat(t, 64, 1, 0), 32, mat(t, 1, 64, 0), 48), "addresses 16-byte aligned past a base");
        assertNotNull(plan(65535, 64, 64, 64, mat(t, 64, 1, 4096), mat(t, 1, 64, 4096)), "as many batches as a grid's z");
        assertNotNull(plan(1, 64, 64, 64, mat(t, 64, 1, 4100), mat(t, 1, 64, 4)), "one batch: its batch stride is never stepped");
    }

    @Test
    void refusesADenseOperandWhoseOffsetsNeed32Bits() {
        // gemm_tile.cuh's DenseCopies: row * ld + col of every element of a batch entry below 2^31
        DType t = DType.BF16;
        int k = 1 << 16, m = 1 << 15;
        assertTrue(CudaGemm.denseFits(k, m, k), "2^15 rows of 2^16: the last element's offset is 2^31 - 1");
        assertFalse(CudaGemm.denseFits(k, m + 1, k), "one row more");
        assertFalse(CudaGemm.denseFits(k + 8, m, k), "rows padded by 8 elements");
        assertTrue(CudaGemm.denseFits(1L << 40, 1, 64), "one row: only its columns count");
        assertNotNull(plan(1, m, 64, k, mat(t, k, 1, 0), mat(t, 1, k, 0)), "A of exactly 2^31 elements");
        assertNull(plan(1, m + 8, 64, k, mat(t, k, 1, 0), mat(t, 1, k, 0)), "A K-major, 8 rows more");
        // B (K x N) N-major: K rows of stride N
        assertNotNull(plan(1, 64, k, m, mat(t, m, 1, 0), mat(t, k, 1, 0)), "B N-major, 2^15 rows of 2^16");
        assertNull(plan(1, 64, k, m + 8, mat(t, m + 8, 1, 0), mat(t, k, 1, 0)), "B N-major, 8 rows more");
    }

    @Test
    void refusesAGatherWhoseOffsetsNeed32Bits() {
        // gemm_tile.cuh's gather_at: a window corner's offset plus a tap's, in 32 bits, so x has at most 2^31 elements
        DType t = DType.BF16;
        // 2^14 images of 64 x 64 pixels, 32 channels: exactly 2^31 elements (a 1x1 conv, so the columns are Cin)
        CudaGemm.Im2col fits = new CudaGemm.Im2col(null, t, 1L << 26, 64, 64, 32, 1, 1, 64, 64, 1, 1, 0, 0);
        assertTrue(CudaGemm.gatherFits(fits), "2^31 elements: the last one's offset is 2^31 - 1");
        CudaGemm.Im2col over = new CudaGemm.Im2col(null, t, 1L << 26, 64, 64, 40, 1, 1, 64, 64, 1, 1, 0, 0);
        assertFalse(CudaGemm.gatherFits(over), "2^26 pixels of 40 channels");
        CudaGemm.Im2col wideChannels = new CudaGemm.Im2col(null, t, 16 * 16, 16, 16, 1 << 24, 1, 1, 16, 16, 1, 1, 0, 0);
        assertFalse(CudaGemm.gatherFits(wideChannels), "256 pixels of 2^24 channels: few pixels, 2^32 elements");
        // GatherRow's 16-bit halves: the dilated image and the strided output each below 2^14 per side
        assertTrue(CudaGemm.gatherFits(gather(8191, 8191, 1, 1, 1, 1, 2, 2)), "an 8191-pixel side dilated by 2: 16382");
        assertFalse(CudaGemm.gatherFits(gather(8192, 1, 1, 1, 1, 1, 2, 1)), "8192 rows dilated by 2");
        assertFalse(CudaGemm.gatherFits(gather(1, 8192, 1, 1, 1, 1, 1, 2)), "8192 columns dilated by 2");
        assertFalse(CudaGemm.gatherFits(gather(16383, 1, 8192, 1, 2, 1, 1, 1)), "8192 output rows of stride 2");
        assertFalse(CudaGemm.gatherFits(gather(1, 16383, 1, 8192, 1, 2, 1, 1)), "8192 output columns of stride 2");
    }

    /** One image of h x w pixels, 8 channels, a 1x1 window of stride sh x sw, read dilated dh x dw, giving ho x wo. */
    private static CudaGemm.Im2col gather(int h, int w, int ho, int wo, int sh, int sw, int dh, int dw) {
        return new CudaGemm.Im2col(null, DType.BF16, (long) ho * wo, h, w, 8, 1, 1, ho, wo, sh, sw, 0, 0, dh, dw);
    }

    /**
     * Tile timing (CudaGemm.perRun): a short product is timed in pairs that span about TUNE_PAIR_MS each, and one pair
     * disturbed (another process's kernel) does not move the result; a slow one is one pair of TUNE_REPS.
     */
    @Test
    void tileTimingTakesTheMedianOfPairsLongEnoughToMeasure() {
        List<Integer> asked = new ArrayList<>();
        double fast = CudaGemm.perRun(n -> {
            asked.add(n);
            return n * 0.005 + (asked.size() == 3 ? 40 : 0.002);   // 5 us a run, 2 us of event overhead; the second pair hit
        });
        int reps = (int) Math.ceil(CudaGemm.TUNE_PAIR_MS / 0.007);
        List<Integer> want = new ArrayList<>(List.of(1));
        for (int p = 0; p < CudaGemm.TUNE_PAIRS; p++) want.add(reps);
        assertEquals(want, asked);
        assertEquals(0.005, fast, 0.0001);
        asked.clear();
        assertEquals(2.0, CudaGemm.perRun(n -> { asked.add(n); return 2.0 * n; }), 1e-12);
        assertEquals(List.of(1, CudaGemm.TUNE_REPS), asked);
        asked.clear();
        CudaGemm.perRun(n -> { asked.add(n); return 0; });   // below the events' resolution: bounded, not infinite
        assertEquals(CudaGemm.TUNE_MAX_REPS, asked.get(1));
        asked.clear();
        assertEquals(1.0, CudaGemm.perRun(n -> { asked.add(n); return n; }), 1e-12);   // a millisecond is slow enough
        assertEquals(List.of(1, CudaGemm.TUNE_REPS), asked);
        // the median, not the middle pair: the third of five pairs hit
        asked.clear();
        assertEquals(0.005, CudaGemm.perRun(n -> { asked.add(n); return n * 0.005 + (asked.size() == 4 ? 40 : 0.002); }), 0.0001);
    }
}
