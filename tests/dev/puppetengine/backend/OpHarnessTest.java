package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.DeviceUnderTest;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The op harness: every {@link Backend} op, forward and backward, on CUDA against the CPU reference, on fresh random
 * inputs (seed printed on failure) with odd sizes that are not multiples of any tile. Every CUDA allocation is
 * NaN-poisoned first, so an output element no kernel wrote fails. Tolerance: ||gpu - cpu|| / ||cpu|| under 1e-5 for
 * F32 (also for the F32 outputs of bf16/f16 runs: norm statistics, log-sum-exp), 1e-2 for BF16 and 1.25e-3 for F16, plus a
 * per-element bound (2 x tolerance x max|cpu|) so one wrong element cannot hide in the norm; the output dtype must
 * match; NaN never passes; the Philox streams must match bit for bit. Skips (JUnit assumption)
 * where no CUDA device is usable ({@link DeviceUnderTest}, shared with the UNet and pipeline parity tests).
 */
@Tag("gpu")
class OpHarnessTest {
    /** The backend under test: CUDA, or the CPU itself with -Dpuppet.harness.cpuSelfTest=true (checks the harness code); see DeviceUnderTest. */
    private static Backend gpu;
    private static final CpuBackend CPU = CpuBackend.get();

    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);
    private Scope scope;

    /** Per test, so each one reports as skipped (not the class silently vanishing) on a machine without CUDA. */
    @BeforeEach
    void open() {
        gpu = DeviceUnderTest.require();
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        if (scope == null) return;
        gpu.synchronize();
        scope.close();
    }

    // ---- inputs on both backends -----------------------------------------------------------------------

    /** The same values on the CPU and on the GPU (rounded to dtype once, so both see identical inputs). */
    record Twin(Tensor cpu, Tensor gpu) {
        Tensor on(boolean g) { return g ? gpu : cpu; }
    }

    private Twin twinIn(DType t, double lo, double hi, int... shape) {
        double[] v = new double[Shape.numelInt(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rnd.nextDouble();
        Tensor c = Tensor.of(CPU, t, shape, v);
        // a distinct copy also when the CPU stands in for the device (to() would alias it: in-place ops such as
        // adamStep would then update both sides, and the comparison of the updated tensors could not fail)
        return new Twin(c, gpu == CPU ? CPU.copy(c, t) : c.to(gpu));
    }

    private Twin twin(DType t, int... shape) { return twinIn(t, -1, 1, shape); }

    /** Runs {@code op} on both backends (true = GPU) and compares each output. */
    private void check(String name, DType t, Function<Boolean, Tensor[]> op) {
        Tensor[] ref = op.apply(false), out = op.apply(true);
        assertEquals(ref.length, out.length, name);
        for (int i = 0; i < ref.length; i++) {
            String what = name + (ref.length > 1 ? " output " + i : "");
            if (ref[i] == null || out[i] == null) assertEquals(ref[i] == null, out[i] == null, what + ": present on one backend only");
            else compare(what, t, ref[i], out[i]);
        }
    }

    private void check1(String name, DType t, Function<Boolean, Tensor> op) { check(name, t, g -> new Tensor[]{op.apply(g)}); }

    private void compare(String name, DType t, Tensor ref, Tensor out) {
        assertTrue(Arrays.equals(ref.shape(), out.shape()), name + ": shape " + Shape.str(out.shape()) + " vs " + Shape.str(ref.shape()));
        assertEquals(ref.dtype(), out.dtype(), name + ": dtype");
        double[] r = ref.toDoubleArray(), o = out.toDoubleArray();
        double num = 0, den = 0, maxRef = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < r.length; i++) {
            if (!Double.isFinite(o[i]) || !Double.isFinite(r[i]))
                fail(name + ": non-finite at element " + i + " of " + r.length + " (device " + o[i] + ", reference " + r[i] + "; NaN = unwritten?), seed " + seed);
            double d = Math.abs(o[i] - r[i]);
            num += d * d;
            den += r[i] * r[i];
            maxRef = Math.max(maxRef, Math.abs(r[i]));
            if (d > maxDiff) { maxDiff = d; worst = i; }
        }
        double tol = tolerance(t, out.dtype());
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        assertTrue(rel < tol, String.format("%s (%s): rel error %.3g >= %.3g, seed %d", name, t, rel, tol, seed));
        // one element far off (a tile corner, a swapped pair) hides in the norm of a large output: also bound every element
        double elemTol = ELEMENT_FACTOR * tol * Math.max(maxRef, 1e-30);
        assertTrue(maxDiff < elemTol, String.format("%s (%s): element %d of %d off by %.3g = %.3g x max|ref| >= %.1f x tol, seed %d",
                name, t, worst, r.length, maxDiff, maxDiff / Math.max(maxRef, 1e-30), ELEMENT_FACTOR, seed));
    }

    /**
     * The relative-error bound of a run in {@code t} giving {@code out}: F32 outputs (norm statistics, log-sum-exp,
     * dalpha) are held to F32's bound also when the inputs are BF16/F16; F16 to BF16's bound scaled by the two formats'
     * precision (2^-11 vs 2^-8), since 1e-2 would let through an F16 kernel that rounds like BF16. On the SIMT
     * emulator the worst cases (attention backward) reach 2.9e-3 in BF16 and 3.7e-4 in F16, so both bounds keep the
     * same margin (docs/runs/2026-12-04-simt-emulator-harness-tolerances.txt).
     */
    static double tolerance(DType t, DType out) {
        if (t == DType.F32 || out == DType.F32) return 1e-5;
        return out == DType.F16 ? 1e-2 / 8 : 1e-2;
    }

    /** Per-element bound, in units of tol x max|ref| (an fp32-accumulated bf16 GEMM vs the f64 reference: ~0.14 tol). */
    private static final double ELEMENT_FACTOR = 2;

    // ---- data movement ---------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void copyAndCast(DType t) {
        Twin x = twin(t, 5, 7, 3);
        check1("copy to F32 of a permuted view", DType.F32, g -> { Tensor v = x.on(g).permute(2, 0, 1); return v.backend().copy(v, DType.F32); });
        check1("copy to BF16", DType.BF16, g -> x.on(g).backend().copy(x.on(g), DType.BF16));
        check1("copy to F16", DType.BF16, g -> x.on(g).backend().copy(x.on(g), DType.F16));
        check1("copyInto a narrowed view", t, g -> {
            Backend b = x.on(g).backend();
            Tensor dst = Tensor.zeros(b, t, 5, 9, 3);
            b.copyInto(x.on(g), dst.narrow(1, 1, 7));
            return dst;
        });
        check1("fill a strided view", t, g -> {
            Backend b = x.on(g).backend();
            Tensor dst = Tensor.zeros(b, t, 4, 6);
            b.fill(dst.narrow(1, 1, 3), 2.5);
            return dst;
        });
        // rows of 16 channels: whole 16-byte chunks, so same-dtype copies go by kernels/copy.cu copy16
        Twin w = twin(t, 4, 6, 16);
        check1("copy of a permuted view, 16-channel rows", t, g -> { Tensor v = w.on(g).permute(1, 0, 2); return v.backend().copy(v, t); });
        check1("copyInto a narrowed view, 16-channel rows", t, g -> {
            Backend b = w.on(g).backend();
            Tensor dst = Tensor.zeros(b, t, 4, 9, 16);
            b.copyInto(w.on(g), dst.narrow(1, 2, 6));
            return dst;
        });
        Twin y = twin(t, 5, 2, 3), z = twin(t, 5, 4, 3);
        check1("concat", t, g -> x.on(g).backend().concat(List.of(x.on(g), y.on(g), z.on(g)), 1));
    }

    @ParameterizedTest
    @EnumSource(value = RandomKind.class)
    void philoxStreamsAreBitIdentical(RandomKind kind) {
        long s = rnd.nextLong(), off = rnd.nextInt(1 << 20);
        // also in the dtypes training draws its noise and initial weights in (EdmLoss, ParameterStore: the model's dtype,
        // one rounding of the float), and into a strided view (13 rows of 77 of 80: the whole parent compared, so a write
        // outside the view fails too)
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16})
            for (boolean strided : new boolean[]{false, true}) {
                Tensor c = strided ? Tensor.zeros(CPU, t, 13, 80) : CPU.empty(t, 1001), gg = strided ? Tensor.zeros(gpu, t, 13, 80) : gpu.empty(t, 1001);
                CPU.fillRandom(strided ? c.narrow(1, 2, 77) : c, kind, s, off);
                gpu.fillRandom(strided ? gg.narrow(1, 2, 77) : gg, kind, s, off);
                float[] a = c.toFloatArray(), b = gg.toFloatArray();
                for (int i = 0; i < a.length; i++)
                    assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]),
                            kind + " " + t + (strided ? " strided" : "") + " element " + i + " seed " + s + " offset " + off);
            }
    }

    // ---- elementwise -----------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void elementwise(DType t) {
        Twin a = twin(t, 3, 5, 7), b = twinIn(t, 0.5, 2, 5, 1), pos = twinIn(t, 0.1, 3, 3, 5, 7), gy = twin(t, 3, 5, 7);
        // also an F32 a with b in t, as the bf16 backward of a broadcast product has them (F.mul / F.div: the widened F32
        // gradient times the saved operand; the result F32), and both operands broadcast (F.sinusoidal: (B, 1) x (1, half))
        Twin a32 = twin(DType.F32, 3, 5, 7), col = twin(t, 3, 1, 7);
        for (BinaryOp op : BinaryOp.values()) {
            check1("binary " + op, t, g -> a.on(g).backend().binary(op, a.on(g), b.on(g)));
            check1("binary " + op + ", a F32, b " + t, t, g -> a32.on(g).backend().binary(op, a32.on(g), b.on(g)));
            check1("binary " + op + ", both broadcast (3,1,7) x (5,1)", t, g -> col.on(g).backend().binary(op, col.on(g), b.on(g)));
        }
        for (UnaryOp op : UnaryOp.values()) {
            Twin x = op == UnaryOp.LOG || op == UnaryOp.SQRT ? pos : a;
            check1("unary " + op, t, g -> x.on(g).backend().unary(op, x.on(g)));
            check1("unaryBackward " + op, t, g -> x.on(g).backend().unaryBackward(op, x.on(g), gy.on(g)));
        }
        check1("affine", t, g -> a.on(g).backend().affine(a.on(g), -1.75, 0.3));
        check1("clamp (a transposed x)", t, g -> a.on(g).backend().clamp(a.on(g).transpose(1, 2), -0.5, 0.8));
        check1("affineFrom (device coefficients, a transposed x)", t, g -> {
            Backend bk = a.on(g).backend();
            Tensor coef = Tensor.of(bk, DType.F64, new int[]{3}, 9.0, -1.75, 0.3);
            return bk.affineFrom(a.on(g).transpose(1, 2), coef, 1, 2);
        });
        check1("affineFrom equals affine bit for bit", t, g -> {
            Backend bk = a.on(g).backend();
            Tensor coef = Tensor.of(bk, DType.F64, new int[]{2}, 1 / Math.sqrt(0.37 * 0.37 + 1), 0.125);
            // The CPU difference is exactly 0, so any nonzero GPU element makes the relative error enormous.
            return bk.binary(BinaryOp.SUB, bk.affineFrom(a.on(g), coef, 0, 1), bk.affine(a.on(g), 1 / Math.sqrt(0.37 * 0.37 + 1), 0.125));
        });
        check1("axpby with a transposed x", t, g -> {
            Backend bk = a.on(g).backend();
            Tensor y = bk.copy(gy.on(g), t).reshape(3, 7, 5).contiguous();
            bk.axpby(0.7, a.on(g).transpose(1, 2), -1.3, y);
            return y;
        });
        Twin wide = twin(t, 301, 7);
        check1("sumTo (3,5,7)->(5,1)", t, g -> a.on(g).backend().sumTo(a.on(g), new int[]{5, 1}));
        check1("sumTo (3,5,7)->(3,1,7)", t, g -> a.on(g).backend().sumTo(a.on(g), new int[]{3, 1, 7}));
        check1("sumTo wide (301,7)->(7)", t, g -> wide.on(g).backend().sumTo(wide.on(g), new int[]{7}));
    }

    // ---- matrix products -------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void matrixProducts(DType t) {
        Twin a = twin(t, 2, 3, 17, 33), b = twin(t, 33, 19), bt = twin(t, 19, 33), c = twin(t, 3, 33, 19);
        check1("matmul broadcast batch", t, g -> a.on(g).backend().matmul(a.on(g), b.on(g)));
        check1("matmul transposed b view", t, g -> a.on(g).backend().matmul(a.on(g), bt.on(g).transpose(0, 1)));
        check1("matmul batched b", t, g -> a.on(g).backend().matmul(a.on(g), c.on(g)));
        Twin x = twin(t, 3, 7, 33), w = twin(t, 19, 33), bias = twin(t, 19);
        check1("linear + bias", t, g -> x.on(g).backend().linear(x.on(g), w.on(g), bias.on(g)));
        check1("linear", t, g -> x.on(g).backend().linear(x.on(g), w.on(g), null));
        epilogues(t, 3, 7, 33, 19);
    }

    /**
     * The GEMM epilogues on (rows x k) (k -> n) products: a residual (alone, with a bias, in F32 next to narrow
     * outputs) and the GEGLU gate (n = 2d; d odd here, so the tensor-core kernel passes it to the general path).
     */
    private void epilogues(DType t, int b, int l, int k, int n) {
        Twin x = twin(t, b, l, k), w = twin(t, n, k), bias = twin(t, n), res = twin(t, b, l, n), res32 = twin(DType.F32, b, l, n);
        check1("linear + bias + residual", t, g -> x.on(g).backend().linear(x.on(g), w.on(g), bias.on(g), res.on(g)));
        check1("linear + residual", t, g -> x.on(g).backend().linear(x.on(g), w.on(g), null, res.on(g)));
        check1("linear + residual in F32", t, g -> x.on(g).backend().linear(x.on(g), w.on(g), bias.on(g), res32.on(g)));
        for (int d : new int[]{n, n + 8}) {
            Twin wg = twin(t, 2 * d, k), bg = twin(t, 2 * d);
            check1("linearGeglu d=" + d + " + bias", t, g -> x.on(g).backend().linearGeglu(x.on(g), wg.on(g), bg.on(g)));
            check1("linearGeglu d=" + d, t, g -> x.on(g).backend().linearGeglu(x.on(g), wg.on(g), null));
        }
        Twin xc = twin(t, 2, 9, 11, 16), wc = twin(t, 24, 3, 3, 16), bc = twin(t, 24), rc = twin(t, 2, 9, 11, 24);
        check1("conv 3x3 + bias + residual", t, g -> xc.on(g).backend().conv2d(xc.on(g), wc.on(g), bc.on(g), rc.on(g), ConvSpec.of(1, 1)));
        Twin wt = twin(t, 24, 3, 1, 16);
        check1("temporal conv (3x1) + bias + residual", t, g -> xc.on(g).backend().conv2d(xc.on(g), wt.on(g), bc.on(g), rc.on(g), new ConvSpec(1, 1, 1, 1, 0, 0)));
        Twin w1 = twin(t, 24, 1, 1, 16);
        check1("conv 1x1 + residual", t, g -> xc.on(g).backend().conv2d(xc.on(g), w1.on(g), null, rc.on(g), ConvSpec.of(1, 0)));
    }

    /**
     * Products the tensor-core kernel takes (bf16/f16, extents and strides multiples of 8; where cuBLAS loads the
     * tuner may pick it instead, so gpu-check.sh runs this with -Dpuppet.cuda.gemm=mma and once per forced tile): all four operand layouts, sizes off its 128x128x32 tiles, several k-tiles
     * through its pipeline, a batch, and channel counts that send convolutions and their gradients there too.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void tensorCoreProducts(DType t) {
        Twin a = twin(t, 136, 264), at = twin(t, 264, 136), b = twin(t, 264, 200), bt = twin(t, 200, 264);
        check1("A K-major x B N-major", t, g -> a.on(g).backend().matmul(a.on(g), b.on(g)));
        check1("A K-major x B K-major", t, g -> a.on(g).backend().matmul(a.on(g), bt.on(g).transpose(0, 1)));
        check1("A M-major x B N-major", t, g -> a.on(g).backend().matmul(at.on(g).transpose(0, 1), b.on(g)));
        check1("A M-major x B K-major", t, g -> a.on(g).backend().matmul(at.on(g).transpose(0, 1), bt.on(g).transpose(0, 1)));
        Twin ab = twin(t, 3, 40, 72), bb = twin(t, 3, 72, 24);
        check1("batched", t, g -> ab.on(g).backend().matmul(ab.on(g), bb.on(g)));
        Twin x = twin(t, 2, 9, 11, 16), w = twin(t, 24, 3, 3, 16), gy = twin(t, 2, 9, 11, 24), bias = twin(t, 24);
        ConvSpec s = ConvSpec.of(1, 1);
        check1("conv 3x3 16->24 + bias (fused in the epilogue)", t, g -> x.on(g).backend().conv2d(x.on(g), w.on(g), bias.on(g), s));
        Twin xl = twin(t, 3, 40, 72), wl = twin(t, 24, 72);
        check1("linear 72->24 + bias", t, g -> xl.on(g).backend().linear(xl.on(g), wl.on(g), bias.on(g)));
        check1("conv 3x3 16->24 backward input", t, g -> x.on(g).backend().conv2dBackwardInput(gy.on(g), w.on(g), new int[]{2, 9, 11, 16}, s));
        check1("conv 3x3 16->24 backward weight", t, g -> x.on(g).backend().conv2dBackwardWeight(gy.on(g), x.on(g), new int[]{24, 3, 3, 16}, s));
        // pixels == kh * kw * Cin (one 8x9 image, 8 channels: 72 each): the gathered operand's layout must come from its
        // side, not its sizes (a weight gradient once read it transposed)
        Twin xs = twin(t, 1, 8, 9, 8), ws = twin(t, 24, 3, 3, 8), gys = twin(t, 1, 8, 9, 24);
        check1("conv 3x3 8->24, pixels = 9 Cin, forward", t, g -> xs.on(g).backend().conv2d(xs.on(g), ws.on(g), null, s));
        check1("conv 3x3 8->24, pixels = 9 Cin, backward weight", t,
                g -> xs.on(g).backend().conv2dBackwardWeight(gys.on(g), xs.on(g), new int[]{24, 3, 3, 8}, s));
        epilogues(t, 3, 50, 72, 136);   // d = 136 and 144: the tensor-core GEGLU epilogue, one partial block tile
        tensorCoreEdges(t);
    }

    /** What the tensor-core paths take that the cases above never give them (ring wrap, persistent walk, TMA im2col, odd N). */
    private void tensorCoreEdges(DType t) {
        // K = 456: 8 k-steps of 64, so gemm_ws's 5-stage ring (128x128 tiles) wraps and its mbarrier parity flips
        Twin ad = twin(t, 136, 456), bd = twin(t, 456, 200);
        check1("deep K = 456 (wgmma ring wraps)", t, g -> ad.on(g).backend().matmul(ad.on(g), bd.on(g)));
        // one B shared by a batch of 70 (batch stride 0: a rank-2 TMA map with batch > 1): 140 output tiles of 128x256, 280 of
        // 128x128, more than an H100/H200's 132 SMs, so each persistent wgmma block walks a second tile (ring phase carried over)
        Twin a70 = twin(t, 70, 136, 264), b2 = twin(t, 264, 200), a2 = twin(t, 136, 264), b3 = twin(t, 3, 264, 200);
        check1("batch 70, B shared (persistent blocks walk >1 tile)", t, g -> a70.on(g).backend().matmul(a70.on(g), b2.on(g)));
        check1("batched, A shared", t, g -> a2.on(g).backend().matmul(a2.on(g), b3.on(g)));
        Twin a3t = twin(t, 3, 264, 136);
        check1("batched, A M-major", t, g -> a3t.on(g).backend().matmul(a3t.on(g).transpose(1, 2), b3.on(g)));
        // odd M (K-major A takes any M) and odd / tiny N (K-major B takes any N: conv_out's 4 channels, a 27-wide linear)
        Twin xo = twin(t, 1, 137, 72), wo = twin(t, 27, 72), bo = twin(t, 27);
        check1("linear odd M 137, odd N 27 + bias", t, g -> xo.on(g).backend().linear(xo.on(g), wo.on(g), bo.on(g)));
        Twin x64 = twin(t, 2, 9, 11, 64), w4 = twin(t, 4, 3, 3, 64);
        check1("conv 3x3 64->4 (N = 4)", t, g -> x64.on(g).backend().conv2d(x64.on(g), w4.on(g), null, ConvSpec.of(1, 1)));
        // Cin = Cout = 64: TMA im2col (gemm_ws) for the forward, the weight gradient and the stride-1 input gradient
        Twin w64 = twin(t, 64, 3, 3, 64), gy64 = twin(t, 2, 9, 11, 64), wt64 = twin(t, 64, 3, 1, 64);
        ConvSpec s1 = ConvSpec.of(1, 1), st = new ConvSpec(1, 1, 1, 1, 0, 0), s2 = ConvSpec.of(2, 1);
        check1("conv 3x3 64->64", t, g -> x64.on(g).backend().conv2d(x64.on(g), w64.on(g), null, s1));
        check1("conv 3x3 64->64 backward input", t, g -> x64.on(g).backend().conv2dBackwardInput(gy64.on(g), w64.on(g), new int[]{2, 9, 11, 64}, s1));
        check1("conv 3x3 64->64 backward weight", t, g -> x64.on(g).backend().conv2dBackwardWeight(gy64.on(g), x64.on(g), new int[]{64, 3, 3, 64}, s1));
        check1("temporal conv 3x1 64->64", t, g -> x64.on(g).backend().conv2d(x64.on(g), wt64.on(g), null, st));
        // stride 2 (the downsamplers) on the tensor cores, all three implicit (the input gradient gathers gy dilated)
        Twin gy2 = twin(t, 2, s2.outH(9, 3), s2.outW(11, 3), 64);
        check1("conv 3x3 s2 64->64", t, g -> x64.on(g).backend().conv2d(x64.on(g), w64.on(g), null, s2));
        check1("conv 3x3 s2 64->64 backward input", t, g -> x64.on(g).backend().conv2dBackwardInput(gy2.on(g), w64.on(g), new int[]{2, 9, 11, 64}, s2));
        check1("conv 3x3 s2 64->64 backward weight", t, g -> x64.on(g).backend().conv2dBackwardWeight(gy2.on(g), x64.on(g), new int[]{64, 3, 3, 64}, s2));
        ConvSpec sv = new ConvSpec(2, 2, 0, 1, 0, 1);   // the VAE encoder's downsampler: padded right and bottom only
        Twin gyv = twin(t, 2, sv.outH(9, 3), sv.outW(11, 3), 64);
        check1("conv 3x3 s2 pad (0,1,0,1) 64->64 backward input", t,
                g -> x64.on(g).backend().conv2dBackwardInput(gyv.on(g), w64.on(g), new int[]{2, 9, 11, 64}, sv));
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void convolution(DType t) {
        ConvSpec[] specs = {ConvSpec.of(1, 1), new ConvSpec(2, 2, 0, 1, 0, 1), ConvSpec.of(1, 0), new ConvSpec(1, 1, 1, 1, 0, 0)};
        int[][] kernels = {{3, 3}, {3, 3}, {1, 1}, {3, 1}};
        for (int i = 0; i < specs.length; i++) {
            ConvSpec s = specs[i];
            int kh = kernels[i][0], kw = kernels[i][1];
            Twin x = twin(t, 2, 9, 11, 5), w = twin(t, 7, kh, kw, 5), bias = twin(t, 7);
            int ho = s.outH(9, kh), wo = s.outW(11, kw);
            Twin gy = twin(t, 2, ho, wo, 7);
            String n = "conv " + kh + "x" + kw + " " + s;
            check1(n, t, g -> x.on(g).backend().conv2d(x.on(g), w.on(g), bias.on(g), s));
            check1(n + " backward input", t, g -> x.on(g).backend().conv2dBackwardInput(gy.on(g), w.on(g), new int[]{2, 9, 11, 5}, s));
            check1(n + " backward weight", t, g -> x.on(g).backend().conv2dBackwardWeight(gy.on(g), x.on(g), new int[]{7, kh, kw, 5}, s));
        }
    }

    // ---- normalisation and modulation ------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void norms(DType t) {
        // 4-D, frame-pooled 5-D, 1334 rows (5 dgamma chunks); groups of 10 channels (256 threads wrap mid-group: norm.cu's GroupWalk)
        for (int[] shape : new int[][]{{2, 5, 7, 12}, {2, 3, 5, 7, 12}, {2, 23, 29, 12}, {2, 9, 11, 30}}) {
            int c = shape[shape.length - 1];
            for (boolean silu : new boolean[]{false, true}) {
                Twin x = twinIn(t, -2, 3, shape), gamma = twinIn(t, 0.5, 1.5, c), beta = twin(t, c), gy = twin(t, shape);
                String n = "groupNorm " + Shape.str(shape) + (silu ? " +silu" : "");
                check(n, t, g -> {
                    NormResult r = x.on(g).backend().groupNorm(x.on(g), gamma.on(g), beta.on(g), 3, 1e-5, silu);
                    return new Tensor[]{r.y(), r.mean(), r.rstd()};
                });
                check(n + " backward", t, g -> {
                    Backend b = x.on(g).backend();
                    NormResult r = b.groupNorm(x.on(g), gamma.on(g), beta.on(g), 3, 1e-5, silu);
                    return b.groupNormBackward(x.on(g), gamma.on(g), beta.on(g), r, 3, silu, gy.on(g));
                });
            }
        }
        // far from zero (|mean| / std ~ 1700): x - mean must not lose the F32 mean's rounding (kernels/norm.cu mean_lo)
        Twin xf = twinIn(t, 999, 1001, 2, 6, 5, 12), gf = twinIn(t, 0.5, 1.5, 12), bf = twin(t, 12);
        check1("groupNorm, mean 1000", t, g -> xf.on(g).backend().groupNorm(xf.on(g), gf.on(g), bf.on(g), 3, 1e-5, false).y());
        Twin x = twin(t, 3, 7, 37), gamma = twin(t, 37), beta = twin(t, 37), gy = twin(t, 3, 7, 37);
        check("layerNorm", t, g -> {
            NormResult r = x.on(g).backend().layerNorm(x.on(g), gamma.on(g), beta.on(g), 1e-5);
            return new Tensor[]{r.y(), r.mean(), r.rstd()};
        });
        check("layerNorm backward", t, g -> {
            Backend b = x.on(g).backend();
            return b.layerNormBackward(x.on(g), gamma.on(g), b.layerNorm(x.on(g), gamma.on(g), beta.on(g), 1e-5), gy.on(g));
        });
        // the resblock output: time-mixer blend and drag FiLM together, and each alone
        Twin gm = twin(t, 3, 7, 37), bt = twin(t, 3, 7, 37), other = twin(t, 3, 7, 37), alpha = twin(t, 1);
        for (int v = 0; v < 3; v++) {
            boolean blend = v != 2, film = v != 1;
            String label = blend && film ? "blend+film" : blend ? "blend" : "film";
            check1(label, t, g -> x.on(g).backend().blendFilm(x.on(g), blend ? other.on(g) : null, blend ? alpha.on(g) : null,
                    film ? gm.on(g) : null, film ? bt.on(g) : null));
            check(label + " backward", t, g -> x.on(g).backend().blendFilmBackward(x.on(g), blend ? other.on(g) : null,
                    blend ? alpha.on(g) : null, film ? gm.on(g) : null, gy.on(g)));
        }
        // gamma and beta as the model has them: the two channel halves of one tensor, read in place (film.cu FilmRows)
        Twin gb = twin(t, 3, 7, 2 * 37);
        check1("blend+film, gamma and beta channel halves", t, g -> x.on(g).backend().blendFilm(x.on(g), other.on(g), alpha.on(g),
                gb.on(g).narrow(2, 0, 37), gb.on(g).narrow(2, 37, 37)));
        check("blend+film backward, gamma a channel half", t, g -> x.on(g).backend().blendFilmBackward(x.on(g), other.on(g), alpha.on(g),
                gb.on(g).narrow(2, 0, 37), gy.on(g)));
        Twin p = twinIn(t, -3, 3, 3, 7, 2 * 37);
        check1("geglu", t, g -> p.on(g).backend().geglu(p.on(g)));
        check1("geglu backward", t, g -> p.on(g).backend().gegluBackward(p.on(g), gy.on(g)));
        Twin xw = twin(t, 3, 200, 300), gw = twin(t, 300), bw = twin(t, 300), gyw = twin(t, 3, 200, 300);   // C > 256 threads, 600 rows
        check("layerNorm wide", t, g -> { NormResult r = xw.on(g).backend().layerNorm(xw.on(g), gw.on(g), bw.on(g), 1e-5); return new Tensor[]{r.y(), r.mean(), r.rstd()}; });
        check("layerNorm wide backward", t, g -> { Backend b = xw.on(g).backend();
            return b.layerNormBackward(xw.on(g), gw.on(g), b.layerNorm(xw.on(g), gw.on(g), bw.on(g), 1e-5), gyw.on(g)); });
    }

    // ---- attention -------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void attention(DType t) {
        // {Bq, Lq, Bk, Lk, C, heads}: plain, all-to-first style sharing (Bq = 3 Bk), a head wider than a warp, Lk > a tile,
        // the wide kernels: the VAE mid block's one 512-channel head (Lk > its 11-row tile), and 264 (just past 256)
        attentionCases(t, new int[][]{{3, 13, 3, 11, 24, 3}, {6, 13, 2, 11, 24, 3}, {4, 9, 2, 7, 80, 2}, {2, 5, 1, 150, 16, 1},
                {2, 30, 2, 30, 512, 1}, {3, 7, 1, 9, 528, 2}});
    }

    /**
     * Head dim 64 in bf16/f16 runs kernels/attention_mma.cu (tensor cores), forward and backward (attention.cu's
     * attention_delta, then attention_mma_backward_dq/dkv from the forward's log-sum-exp). All-to-first over ragged 64-row tiles, cross-attention to 6 tokens, temporal
     * (14 keys), several key tiles.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void tensorCoreAttention(DType t) {
        attentionCases(t, new int[][]{{6, 100, 2, 100, 128, 2}, {4, 70, 4, 6, 64, 1}, {3, 14, 3, 14, 192, 3}, {2, 64, 1, 130, 64, 1}});
    }

    private void attentionCases(DType t, int[][] cases) {
        for (int[] cs : cases) {
            Twin q = twin(t, cs[0], cs[1], cs[4]), k = twin(t, cs[2], cs[3], cs[4]), v = twin(t, cs[2], cs[3], cs[4]);
            Twin go = twin(t, cs[0], cs[1], cs[4]);
            int heads = cs[5];
            double scale = 1 / Math.sqrt(cs[4] / (double) heads);
            String n = "attention " + Arrays.toString(cs);
            check(n, t, g -> {
                AttentionResult r = q.on(g).backend().attention(q.on(g), k.on(g), v.on(g), heads, scale);
                return new Tensor[]{r.out(), r.lse()};
            });
            check(n + " backward", t, g -> {
                Backend b = q.on(g).backend();
                AttentionResult r = b.attention(q.on(g), k.on(g), v.on(g), heads, scale);
                return b.attentionBackward(q.on(g), k.on(g), v.on(g), r, go.on(g), heads, scale);
            });
        }
    }

    // ---- resampling and optimiser ----------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void resampling(DType t) {
        Twin x = twin(t, 2, 5, 7, 3), gy = twin(t, 2, 10, 14, 3);
        check1("upsample 2x", t, g -> x.on(g).backend().upsampleNearest2x(x.on(g)));
        check1("upsample 2x backward", t, g -> x.on(g).backend().upsampleNearest2xBackward(gy.on(g)));
        Twin feat = twin(t, 2, 7, 9, 5), pts = twinIn(DType.F32, -0.1, 1.1, 2, 4, 2), gs = twin(t, 2, 4, 5);
        check1("gridSamplePoints", t, g -> feat.on(g).backend().gridSamplePoints(feat.on(g), pts.on(g)));
        check1("gridSamplePoints backward", t, g -> feat.on(g).backend().gridSamplePointsBackward(gs.on(g), pts.on(g), new int[]{2, 7, 9, 5}));
    }

    /** A NaN point samples NaN (not pixel (0, 0), not a read out of bounds); the other points are unaffected. */
    @Test
    void gridSampleOfANanPointIsNan() {
        double[] p = {0.3, 0.6, Double.NaN, 0.5, 0.5, Double.NaN, 0.9, 0.1};
        for (Backend b : new Backend[]{CPU, gpu}) {
            Tensor feat = Tensor.of(b, DType.F32, new int[]{1, 3, 4, 2}, IntStream.range(0, 24).mapToDouble(i -> i * 0.25).toArray());
            double[] out = b.gridSamplePoints(feat, Tensor.of(b, DType.F32, new int[]{1, 4, 2}, p)).toDoubleArray();
            for (int i = 0; i < 8; i++)
                assertEquals(i >= 2 && i < 6, Double.isNaN(out[i]), b.name() + " point " + i / 2 + " channel " + i % 2 + ": " + out[i]);
        }
    }

    /**
     * One multi-tensor step (one launch on CUDA) over tensors of many sizes: empty, one element, odd sizes below, at
     * and across the kernel's 2048-element chunks. Gradients F32, BF16 and F16 in the same step, two of them strided
     * views (transposed, narrowed at an offset); low-precision copies BF16 and F16, one a transposed view, or none at
     * all (a null list).
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void adam(boolean lowCopies) {
        int[][] shapes = {{37, 5}, {11}, {1}, {0, 5}, {41, 53}, {64, 64}, {3, 7}, {2049}, {0}, {6, 9}};
        DType[] gradTypes = {DType.F32, DType.BF16, DType.F16};
        int nt = shapes.length;
        for (boolean decoupled : new boolean[]{false, true}) {
            Twin[] w = new Twin[nt], m = new Twin[nt], v = new Twin[nt], gr = new Twin[nt];
            for (int i = 0; i < nt; i++) {
                int[] s = shapes[i];
                w[i] = twin(DType.F32, s);
                m[i] = twinIn(DType.F32, -0.1, 0.1, s);
                v[i] = twinIn(DType.F32, 0, 0.01, s);
                DType gt = gradTypes[i % 3];
                gr[i] = i == 6 ? twin(gt, 7, 3) : i == 9 ? twin(gt, 6, 11) : twin(gt, s);
            }
            AdamParams p = new AdamParams(1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 7, 0.5);
            List<List<Tensor>> res = new ArrayList<>();
            for (int side = 0; side < 2; side++) {
                boolean g = side == 1;
                Backend b = w[0].on(g).backend();
                List<Tensor> ws = new ArrayList<>(), gs = new ArrayList<>(), ms = new ArrayList<>(), vs = new ArrayList<>(), lows = new ArrayList<>();
                for (int i = 0; i < nt; i++) {
                    ws.add(w[i].on(g));
                    ms.add(m[i].on(g));
                    vs.add(v[i].on(g));
                    gs.add(i == 6 ? gr[i].on(g).transpose(0, 1) : i == 9 ? gr[i].on(g).narrow(1, 1, 9) : gr[i].on(g));
                    int[] s = shapes[i];
                    lows.add(i == 0 ? b.empty(DType.BF16, s[1], s[0]).transpose(0, 1) : b.empty(i % 2 == 0 ? DType.F16 : DType.BF16, s));
                }
                b.adamStep(ws, gs, ms, vs, p, lowCopies ? lows : null);
                List<Tensor> out = new ArrayList<>(ws);
                out.addAll(ms);
                out.addAll(vs);
                if (lowCopies) out.addAll(lows);
                res.add(out);
            }
            String[] what = {"master", "m", "v", "low copy"};
            for (int k = 0; k < res.get(0).size(); k++) {
                Tensor ref = res.get(0).get(k), out = res.get(1).get(k);
                // The master weights and moments are F32; the low-precision copies may differ by one rounding.
                compare("adam " + (decoupled ? "AdamW" : "Adam") + " tensor " + k % nt + " " + Shape.str(shapes[k % nt]) + " " + what[k / nt],
                        ref.dtype() == DType.F32 ? DType.F32 : DType.BF16, ref, out);
            }
        }
    }
}
