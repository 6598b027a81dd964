package dev.puppetengine.backend.cpu;

import dev.puppetengine.backend.AdamParams;
import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.stream.DoubleStream;
import java.util.stream.Stream;

import static dev.puppetengine.testing.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The CPU reference on its own, against values worked out independently (the gradient checks only hold forward and
 * backward to each other, and the op harness only holds CUDA to this): exact where the arithmetic is exact, a direct
 * loop where it is not; sizes one short of the tile and channel-block sizes the conv and GEMM split work into.
 */
class CpuBackendTest {
    private static final CpuBackend CPU = CpuBackend.get();
    private final Random rng = new Random(13);
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    private static Tensor f64(int[] shape, double... v) { return Tensor.of(CPU, DType.F64, shape, v); }

    @Test
    void everyDtypeRoundTripsThroughCpuStorage() {
        for (DType t : DType.values()) {
            double[] v = t == DType.BOOL ? new double[]{0, 1, 1, 0} : new double[]{0, 1, 2, 200};
            Tensor x = Tensor.of(CPU, t, new int[]{4}, v);
            assertArrayEquals(v, x.toDoubleArray(), t + " bytes in and out");
            assertArrayEquals(v, CPU.copy(x, DType.F64).toDoubleArray(), t + " element reads");
            assertArrayEquals(v, CPU.copy(f64(new int[]{4}, v), t).toDoubleArray(), t + " element writes");
        }
    }

    @Test
    void copiesNeverAliasTheirSource() {
        Tensor x = f64(new int[]{2, 2}, 1, 2, 3, 4);
        CPU.fill(CPU.copy(x, DType.F64), 0);
        assertArrayEquals(new double[]{1, 2, 3, 4}, x.toDoubleArray());
        CPU.copyInto(x, x.transpose(0, 1));   // source and destination are the same storage
        assertArrayEquals(new double[]{1, 3, 2, 4}, x.toDoubleArray());
    }

    /**
     * fill and copyInto on contiguous views (the runs they copy whole): every dtype, an offset into the storage, the elements
     * around the run untouched, the fill value rounded once as an element write rounds it, a copy between overlapping runs
     * of one storage as if through a temporary, and the bits copied as they are (a NaN's payload, -0).
     */
    @Test
    void fillAndCopyIntoContiguousRunsOfEveryDtype() {
        for (DType t : DType.values()) {
            double[] v = {1, 2, 3, 4, 5, 6};
            Tensor x = Tensor.of(CPU, t, new int[]{6}, v);
            double fill = t.isFloating() ? 0.1 : t == DType.BOOL ? 1 : 7;
            CPU.fill(x.narrow(0, 1, 3), fill);
            double rounded = CPU.copy(f64(new int[]{1}, fill), t).toDoubleArray()[0];
            assertArrayEquals(new double[]{1, rounded, rounded, rounded, 5, 6}, x.toDoubleArray(), t + " fill");
            Tensor y = Tensor.of(CPU, t, new int[]{6}, v);
            CPU.copyInto(y.narrow(0, 0, 4), y.narrow(0, 2, 4));   // overlapping, the destination after the source
            assertArrayEquals(new double[]{1, 2, 1, 2, 3, 4}, y.toDoubleArray(), t + " overlapping copy");
        }
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            int nanBits = t == DType.F32 ? 0x7fc00123 : t == DType.BF16 ? 0x7fc1 : 0x7e01;   // quiet NaNs with a payload
            int negZero = t == DType.F32 ? 0x80000000 : 0x8000;
            ByteBuffer b = ByteBuffer.allocate(2 * t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
            if (t == DType.F32) b.putInt(nanBits).putInt(negZero).flip(); else b.putShort((short) nanBits).putShort((short) negZero).flip();
            Tensor src = CPU.empty(t, new int[]{2}), dst = CPU.empty(t, new int[]{2});
            src.storage().write(0, b);
            assertEquals(0, b.remaining(), t + ": a write takes the buffer's bytes");
            CPU.copyInto(src, dst);
            ByteBuffer out = ByteBuffer.allocate(2 * t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
            dst.storage().read(0, out);
            assertEquals(0, out.remaining(), t + ": a read fills the buffer");
            assertEquals(b.flip(), out.flip(), t + ": the bits copied as they are");
        }
    }

    /** A copy between I64 tensors keeps the bits: 2^53 + 1 and -(2^62) - 1 have no double, so no round trip through one. */
    @Test
    void copyIntoKeepsInt64ValuesADoubleCannotHold() {
        long[] v = {(1L << 53) + 1, -(1L << 62) - 1};
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(v[0]).putLong(v[1]).flip();
        Tensor src = CPU.empty(DType.I64, 2), dst = CPU.empty(DType.I64, 2);
        src.storage().write(0, b);
        CPU.copyInto(src, dst);
        ByteBuffer out = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        dst.storage().read(0, out);
        assertArrayEquals(v, new long[]{out.getLong(0), out.getLong(8)});
    }

    /** An empty view's fill writes nothing, not even the element where the view starts. */
    @Test
    void fillOfAnEmptyViewLeavesItsStorageAlone() {
        Tensor x = f64(new int[]{4}, 1, 2, 3, 4);
        CPU.fill(x.narrow(0, 2, 0), 9);
        assertArrayEquals(new double[]{1, 2, 3, 4}, x.toDoubleArray());
    }

    /** Rank-0 tensors (a checkpoint's scalars, a batch's int64 indices) read and written element by element. */
    @Test
    void rankZeroTensorsReadAndWrite() {
        Tensor i = Tensor.of(CPU, DType.I64, new int[0], 7), h = Tensor.of(CPU, DType.BF16, new int[0], 1.5);
        assertEquals(7, CPU.copy(i, DType.F64).item());
        Tensor d = CPU.empty(DType.F16, new int[0]);
        CPU.copyInto(h, d);   // BF16 to F16: read and written through double
        assertEquals(1.5, d.item());
    }

    /** F32 views whose rows are runs but not one run: a narrowed width, a broadcast row (the bias of an add). */
    @Test
    void float32ViewsReadRowByRow() {
        float[] v = new float[12];
        for (int k = 0; k < 12; k++) v[k] = k;
        Tensor x = Tensor.of(CPU, DType.F32, new int[]{3, 4}, v);
        assertArrayEquals(new double[]{1, 2, 5, 6, 9, 10}, CPU.copy(x.narrow(1, 1, 2), DType.F64).toDoubleArray());
        Tensor bias = Tensor.of(CPU, DType.F32, new int[]{4}, 0.5f, 1, 2, 4);
        assertArrayEquals(new double[]{0.5, 2, 4, 7, 4.5, 6, 8, 11, 8.5, 10, 12, 15}, CPU.binary(BinaryOp.ADD, x, bias).toDoubleArray());
    }

    /**
     * eps is added to the variance inside the root: x (1, 2, 1, 2) with channels {-1, 5} (mean 2, variance 9) and {5, 5}
     * (variance 0), two groups, eps 16: rstd 1/5 and 1/4, so y = (+-3/5) * gamma + beta and the flat channel is beta. Layer
     * norm on the same values as two rows of two gives the same statistics per row.
     */
    @Test
    void normsAddEpsToTheVariance() {
        Tensor x = f64(new int[]{1, 2, 1, 2}, -1, 5, 5, 5), gamma = f64(new int[]{2}, 2, 3), beta = f64(new int[]{2}, 1, -1);
        NormResult g = CPU.groupNorm(x, gamma, beta, 2, 16, false);
        assertArrayEquals(new double[]{-0.2, -1, 2.2, -1}, g.y().toDoubleArray(), 1e-15);
        assertArrayEquals(new double[]{2, 5}, g.mean().toDoubleArray());
        assertArrayEquals(new double[]{0.2, 0.25}, g.rstd().toDoubleArray());
        Tensor rows = f64(new int[]{2, 2}, -1, 5, 5, 5);   // a group norm of rank 2, (N, C), in one group is the same
        for (NormResult l : new NormResult[]{CPU.layerNorm(rows, null, null, 16), CPU.groupNorm(rows, null, null, 1, 16, false)}) {
            assertArrayEquals(new double[]{-0.6, 0.6, 0, 0}, l.y().toDoubleArray(), 1e-15);
            assertArrayEquals(new double[]{0.2, 0.25}, l.rstd().toDoubleArray());
        }
        assertArrayEquals(new double[]{-0.6, 0.6}, CPU.layerNorm(f64(new int[]{2}, -1, 5), null, null, 16).y().toDoubleArray(), 1e-15, "rank 1");
    }

    /** A clamp to one value (lo = hi) is allowed: every element becomes it. */
    @Test
    void clampToOneValue() {
        assertArrayEquals(new double[]{2, 2, 2}, CPU.clamp(f64(new int[]{3}, -1, 2, 7), 2, 2).toDoubleArray());
    }

    /**
     * Attention worked by hand, two heads of width 2, two query batches on one key/value batch, scale 1/2 (q doubled): each
     * (batch, head) row's scores are {ln 3, 0}, {0, 0} or {0, ln 3}, so its weights are {3/4, 1/4}, halves or {1/4, 3/4}
     * over the two values of its head, and its log-sum-exp ln 4 or ln 2.
     */
    @Test
    void attentionByHand() {
        double ln3 = Math.log(3);
        Tensor q = f64(new int[]{2, 1, 4}, 2, 0, 0, 0, 0, 0, 0, 4);
        Tensor k = f64(new int[]{1, 2, 4}, ln3, 0, 0, 0, 0, 0, 0, ln3 / 2);
        Tensor v = f64(new int[]{1, 2, 4}, 4, 0, 2, 6, 0, 8, 4, -2);
        AttentionResult r = CPU.attention(q, k, v, 2, 0.5);
        assertArrayEquals(new double[]{3, 2, 3, 2, 2, 4, 3.5, 0}, r.out().toDoubleArray(), 1e-15);
        assertArrayEquals(new double[]{Math.log(4), Math.log(2), Math.log(2), Math.log(4)}, r.lse().toDoubleArray(), 1e-15);
    }

    /**
     * The conv forward's per-thread im2col tile grows when a later conv has more taps than an earlier one on that thread
     * (here 1 then 18): on a new thread, so the tile starts empty whatever ran before.
     */
    @Test
    void convGrowsItsPerThreadTileForMoreTaps() throws InterruptedException {
        Throwable[] failure = new Throwable[1];
        Thread t = new Thread(() -> {
            try (Scope s = Scope.open()) {
                for (int[] ws : new int[][]{{3, 1, 1, 1}, {3, 3, 3, 2}}) {
                    int[] xs = {1, 5, 6, ws[3]};
                    ConvSpec spec = ConvSpec.of(1, ws[1] / 2);
                    Tensor x = randn(new Random(ws[1]), xs), w = randn(new Random(ws[3]), ws);
                    assertArrayEquals(directConv(x.toDoubleArray(), xs, w.toDoubleArray(), ws, spec), CPU.conv2d(x, w, null, spec).toDoubleArray(), 1e-12);
                }
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        t.start();
        t.join();
        if (failure[0] != null) throw new AssertionError("on a new thread", failure[0]);
    }

    @Test
    void divisionIsExactWhereTheQuotientIs() {
        Tensor a = f64(new int[]{3}, 1, 3, -7), b = f64(new int[]{3}, 4, -2, 0.5);
        assertArrayEquals(new double[]{0.25, -1.5, -14}, CPU.binary(BinaryOp.DIV, a, b).toDoubleArray());
    }

    @Test
    void affineFromReadsScaleAndShiftFromTheCoefficients() {
        Tensor x = f64(new int[]{3}, 1, -2, 0.5), coef = f64(new int[]{3}, 2, 0.5, -1);
        assertArrayEquals(new double[]{1, -5, 0}, CPU.affineFrom(x, coef, 0, 2).toDoubleArray());
        assertArrayEquals(new double[]{2.5, 1, 2.25}, CPU.affineFrom(x, coef, 1, 0).toDoubleArray());
        assertArrayEquals(new double[]{0.5, -1, 0.25}, CPU.affineFrom(x, coef, 1, -1).toDoubleArray(), "a negative index: no shift");
    }

    /** One array per storage, of its dtype's family: a spare one would be heap that bytesInUse does not count. */
    @Test
    void aStorageHoldsOnlyTheArrayOfItsDtype() {
        for (DType t : DType.values()) {
            CpuStorage s = Strided.storage(CPU.empty(t, 3));
            assertEquals(1, Stream.of(s.f64, s.f32, s.h16, s.i64, s.i32, s.u8).filter(Objects::nonNull).count(), t.toString());
        }
    }

    /** The name eval results record as the device and the CLI prints. */
    @Test
    void namedCpu() {
        assertEquals("cpu", CPU.name());
    }

    @Test
    void memoryAccountingAndTheAllocationLimit() {
        long before = CPU.bytesInUse();
        CPU.resetPeak();
        assertEquals(before, CPU.peakBytes());
        try (Tensor t = Tensor.zeros(CPU, DType.F64, 1000)) {
            assertEquals(before + 8000, CPU.bytesInUse());
        }
        assertEquals(before, CPU.bytesInUse());
        assertEquals(before + 8000, CPU.peakBytes());
        CPU.resetPeak();
        assertEquals(before, CPU.peakBytes());
        assertThrows(IllegalArgumentException.class, () -> CPU.allocate(DType.U8, 1L << 32));   // not an int: no wrap to 0
    }

    /** No gamma and beta is gamma 1 and beta 0; parameter gradients take gamma's dtype (else x's); gy stays as it was. */
    @Test
    void normsWithoutAffineParameters() {
        Tensor x = randn(rng, 2, 3, 5, 6), gy = randn(rng, 2, 3, 5, 6), ones = Tensor.full(CPU, DType.F64, 1, 6), zeros = Tensor.zeros(CPU, DType.F64, 6);
        double[] gyBefore = gy.toDoubleArray();
        for (boolean silu : new boolean[]{false, true}) {
            NormResult plain = CPU.groupNorm(x, null, null, 3, 1e-5, silu), affine = CPU.groupNorm(x, ones, zeros, 3, 1e-5, silu);
            assertArrayEquals(affine.y().toDoubleArray(), plain.y().toDoubleArray(), 0);
            Tensor[] gp = CPU.groupNormBackward(x, null, null, plain, 3, silu, gy), ga = CPU.groupNormBackward(x, ones, zeros, affine, 3, silu, gy);
            for (int i = 0; i < 3; i++) assertArrayEquals(ga[i].toDoubleArray(), gp[i].toDoubleArray(), 0, "silu " + silu + ", gradient " + i);
            assertArrayEquals(gyBefore, gy.toDoubleArray(), 0, "gy is an input");
        }
        Tensor rows = randn(rng, 4, 6), gr = randn(rng, 4, 6);
        NormResult plain = CPU.layerNorm(rows, null, null, 1e-5), affine = CPU.layerNorm(rows, ones, zeros, 1e-5);
        assertArrayEquals(affine.y().toDoubleArray(), plain.y().toDoubleArray(), 0);
        Tensor[] gp = CPU.layerNormBackward(rows, null, plain, gr), ga = CPU.layerNormBackward(rows, ones, affine, gr);
        for (int i = 0; i < 3; i++) assertArrayEquals(ga[i].toDoubleArray(), gp[i].toDoubleArray(), 0, "layer norm gradient " + i);

        Tensor g32 = Tensor.full(CPU, DType.F32, 1, 6), b32 = Tensor.zeros(CPU, DType.F32, 6);
        Tensor[] g = CPU.groupNormBackward(x, g32, b32, CPU.groupNorm(x, g32, b32, 3, 1e-5, false), 3, false, gy);
        assertEquals(List.of(DType.F64, DType.F32, DType.F32), List.of(g[0].dtype(), g[1].dtype(), g[2].dtype()));
        assertEquals(DType.F64, CPU.groupNormBackward(x, null, null, CPU.groupNorm(x, null, null, 3, 1e-5, false), 3, false, gy)[1].dtype());
        g = CPU.layerNormBackward(rows, g32, CPU.layerNorm(rows, g32, b32, 1e-5), gr);
        assertEquals(List.of(DType.F64, DType.F32, DType.F32), List.of(g[0].dtype(), g[1].dtype(), g[2].dtype()));
        assertEquals(DType.F64, CPU.layerNormBackward(rows, null, plain, gr)[1].dtype());
    }

    /** Absent inputs get null gradients (Backend.blendFilmBackward); without b or FiLM the op is the identity. */
    @Test
    void blendFilmBackwardGivesNoGradientForAbsentInputs() {
        Tensor a = randn(rng, 2, 3), b = randn(rng, 2, 3), alpha = f64(new int[]{1}, 0.25), gy = randn(rng, 2, 3);
        Tensor[] g = CPU.blendFilmBackward(a, b, alpha, null, gy);
        assertNull(g[3]);
        assertNull(g[4]);
        g = CPU.blendFilmBackward(a, null, null, null, gy);
        assertArrayEquals(gy.toDoubleArray(), g[0].toDoubleArray());
        for (int i = 1; i < 5; i++) assertNull(g[i], "gradient " + i);
    }

    /**
     * feat[b][y][x] = 100 b + 10 y + x, 3 x 4; a point (u, v) samples pixel (4 u - 0.5, 3 v - 0.5), clamped to the map:
     * (0.5, 0.75) is (1.5, 1.75), 10 * 1.75 + 1.5 = 19; (1, 1) and (2, 2) clamp to the corner (3, 2); (-1, -1) to (0, 0).
     */
    @Test
    void gridSampleInterpolatesBilinearlyAndClampsToTheMap() {
        double[] f = new double[2 * 3 * 4];
        for (int i = 0; i < f.length; i++) f[i] = 100 * (i / 12) + 10 * (i / 4 % 3) + i % 4;
        double[] pts = {0.5, 0.75, 1, 1, 2, 2, -1, -1};
        Tensor points = f64(new int[]{2, 4, 2}, DoubleStream.concat(Arrays.stream(pts), Arrays.stream(pts)).toArray());
        assertArrayEquals(new double[]{19, 23, 23, 0, 119, 123, 123, 100},
                CPU.gridSamplePoints(f64(new int[]{2, 3, 4, 1}, f), points).toDoubleArray());
    }

    /** torch.optim.Adam's first step with beta1 = beta2 = 0, eps 1: w -= lr * g' / (|g'| + 1), g' = gradScale * g. */
    @Test
    void adamScalesTheGradientAndWritesTheLowPrecisionCopy() {
        Tensor w = Tensor.full(CPU, DType.F32, 1, 2), m = Tensor.zeros(CPU, DType.F32, 2), v = Tensor.zeros(CPU, DType.F32, 2);
        Tensor lo = Tensor.zeros(CPU, DType.BF16, 2);
        CPU.adamStep(List.of(w), List.of(f64(new int[]{2}, 2, -6)), List.of(m), List.of(v), new AdamParams(1, 0, 0, 1, 0, false, 1, 0.5), List.of(lo));
        assertArrayEquals(new double[]{0.5, 1.75}, w.toDoubleArray());
        assertArrayEquals(new double[]{1, -3}, m.toDoubleArray());
        assertArrayEquals(new double[]{1, 9}, v.toDoubleArray());
        assertArrayEquals(new double[]{0.5, 1.75}, lo.toDoubleArray());
    }

    /**
     * 37 rows: three row tasks of 16, enough work to run in parallel; 131 and 515 are 3 past a panel of B (128 of K by
     * 512 of N) and not multiples of the four rows of B summed at once.
     */
    @Test
    void matmulOverManyRowBlocksMatchesTheDirectSum() {
        int m = 37, k = 131, n = 515;
        Tensor a = randn(rng, m, k), b = randn(rng, k, n);
        double[] av = a.toDoubleArray(), bv = b.toDoubleArray(), want = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++) want[i * n + j] += av[i * k + p] * bv[p * n + j];
        assertArrayEquals(want, CPU.matmul(a, b).toDoubleArray(), 1e-12);
    }

    /**
     * 255 input and output pixels (one short of two tiles of 128) and 31 output channels (one short of two blocks of
     * 16), 3 input channels so each pass has the work to run its tiles or blocks in parallel: the forward against the
     * direct sum, the two gradients as its adjoints, <conv(x), gy> = <x, gx> = <w, gw>.
     */
    @Test
    void convOverSeveralTilesAndChannelBlocks() {
        int[] xs = {1, 15, 17, 3}, ws = {31, 3, 3, 3};
        ConvSpec s = ConvSpec.of(1, 1);
        Tensor x = randn(rng, xs), w = randn(rng, ws), gy = randn(rng, 1, 15, 17, 31);
        double[] want = directConv(x.toDoubleArray(), xs, w.toDoubleArray(), ws, s);
        assertArrayEquals(want, CPU.conv2d(x, w, null, s).toDoubleArray(), 1e-12);
        double forward = dot(want, gy.toDoubleArray());
        assertEquals(forward, dot(x.toDoubleArray(), CPU.conv2dBackwardInput(gy, w, xs, s).toDoubleArray()), 1e-9);
        assertEquals(forward, dot(w.toDoubleArray(), CPU.conv2dBackwardWeight(gy, x, ws, s).toDoubleArray()), 1e-9);
    }

    /** Channels-last convolution one output element at a time: x (N, H, W, Cin), w (Cout, kh, kw, Cin). */
    private static double[] directConv(double[] x, int[] xs, double[] w, int[] ws, ConvSpec s) {
        int n = xs[0], h = xs[1], wd = xs[2], cin = xs[3], cout = ws[0], kh = ws[1], kw = ws[2];
        int ho = s.outH(h, kh), wo = s.outW(wd, kw);
        double[] y = new double[n * ho * wo * cout];
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    for (int co = 0; co < cout; co++) {
                        double acc = 0;
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = oy * s.strideH() - s.padTop() + ky, ix = ox * s.strideW() - s.padLeft() + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                for (int ci = 0; ci < cin; ci++)
                                    acc += x[((b * h + iy) * wd + ix) * cin + ci] * w[((co * kh + ky) * kw + kx) * cin + ci];
                            }
                        y[((b * ho + oy) * wo + ox) * cout + co] = acc;
                    }
        return y;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
