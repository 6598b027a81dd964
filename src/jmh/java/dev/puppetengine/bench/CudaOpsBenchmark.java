package dev.puppetengine.bench;

import dev.puppetengine.backend.AdamParams;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The CUDA kernels {@link CudaKernelsBenchmark} does not cover, at the spec's shapes (ARCHITECTURE.md
 * 1.4, 2.3-2.6): CFG batch 2 x 14 frames = N 28, 32 x 32 latents, first level 320 channels. Elementwise
 * (broadcast binary, SiLU/GELU and backward), GEGLU, layer norm, nearest 2x upsample and the stride-2 conv
 * downsampler, grid sample at the drag points, Philox normal fill, AdamW, bf16/f32 copy-cast of strided views, sumTo,
 * and one bf16 linear per GEMM path (cuBLAS, our tensor-core mma kernel, the tiled kernel). bf16 unless stated; each
 * call is synchronised, so the time is the kernel's (plus launch). Needs a usable CUDA device: setup fails with the
 * backend's reason otherwise, as in {@link CudaKernelsBenchmark}. Run: java -jar target/benchmarks.jar CudaOpsBenchmark
 *
 * <p>Each method's javadoc gives the bytes one call must move (the minimum: every input read once, every output
 * written once) or its FLOPs. MB = 10^6 bytes; "act" = one activation (28, 32, 32, 320) bf16 = 9,175,040 elements =
 * 18.35 MB; the figures are for the default shapes. GB/s = MB / (microseconds x 1000).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CudaOpsBenchmark extends CudaBench {
    /** Drag points per frame (spec: K = 5 max drags). */
    private static final int DRAGS = 5;

    private Tensor x, gy, x2, perFrame, tokens, tokensGy, lnGamma, lnBeta, proj, projGy,
            small, smallGy, convW, convB, feat, points, pointsGy, wide, f32, f32Big, noise, linW, linB, outW, outB, coef, scratch;
    private NormResult lnSaved;
    private AdamTensors adamBlock, adamSmall;

    @Setup(Level.Trial)
    public void setup() throws CudaUnavailableException {
        open();
        int n = s.n(), l = s.l(), side = s.side(), c = s.c();
        int ff = 4 * c;   // GEGLU feed-forward: proj 320 -> 2 x 1280 (ARCHITECTURE.md 2.6: Linear(C -> 8C), halves of 4C)
        x = random(n, side, side, c);                 // an activation (act)
        gy = random(n, side, side, c);
        x2 = random(n, side, side, c);
        scratch = random(n, side, side, c);           // written in place by axpby and fill
        coef = random(DType.F64, RandomKind.NORMAL, 5); // the CUDA-graph sampler's per-step scalars (affineFrom)
        perFrame = random(n, 1, 1, c);                // the resblock's temb projection, broadcast over pixels
        tokens = random(n, l, c);                     // transformer tokens (N, HW, C)
        tokensGy = random(n, l, c);
        lnGamma = random(c);
        lnBeta = random(c);
        lnSaved = gpu.layerNorm(tokens, lnGamma, lnBeta, 1e-5);
        proj = random(n, l, 2 * ff);                  // ff.net.0.proj output
        projGy = random(n, l, ff);
        small = random(n, side / 2, side / 2, 2 * c); // up_blocks.2's output (640 @ 16) before its upsampler
        smallGy = random(n, side, side, 2 * c);
        convW = random(c, 3, 3, c);                   // down_blocks.0's downsampler
        convB = random(c);
        feat = random(n, side, side, c);
        points = random(DType.F32, RandomKind.UNIFORM, n, DRAGS, 2);
        pointsGy = random(n, DRAGS, c);
        wide = random(n, side, side, 3 * c);           // up_blocks.3's skip concat (960 = 320 + 640 channels)
        f32 = random(DType.F32, RandomKind.NORMAL, n, side, side, c);
        f32Big = gpu.empty(DType.F32, n, side, side, c);
        noise = gpu.empty(DType.F32, s.videos(), s.frames(), 4, side, side);
        linW = random(2 * ff, c);
        linB = random(2 * ff);
        outW = random(c, c);
        outB = random(c);
        adamBlock = adamChunk();
        adamSmall = adamSmallTensors();
        inputsMade();
    }

    /** Master weights, bf16 gradients, moments and bf16 model copies for one benchmarked AdamW step. */
    private final class AdamTensors {
        private final List<Tensor> params = new ArrayList<>(), grads = new ArrayList<>(), m = new ArrayList<>(),
                v = new ArrayList<>(), lowPrecision = new ArrayList<>();
        private final AdamParams adam = new AdamParams(1e-5, 0.9, 0.999, 1e-8, 0.01, true, 10, 1.0);

        void add(int... s) {
            params.add(random(DType.F32, RandomKind.NORMAL, s));
            grads.add(random(s));
            Tensor mi = gpu.empty(DType.F32, s);
            gpu.fill(mi, 0);
            m.add(mi);
            v.add(random(DType.F32, RandomKind.UNIFORM, s));
            lowPrecision.add(gpu.empty(DType.BF16, s));
        }

        void step() { gpu.adamStep(params, grads, m, v, adam, lowPrecision); }
    }

    /**
     * The parameters of one 1280-channel spatial transformer block (attn1 q/k/v/out, attn2 q/k/v/out with 1024-wide
     * context, GEGLU ff 1280 -> 2 x 5120 -> 1280, three LayerNorms): 20 tensors, 32,134,400 parameters, about 2% of
     * the UNet's 1.68 B (the whole model does not fit a benchmark's setup sensibly; the step is one launch for all
     * tensors, so its time scales with the parameter count).
     */
    private AdamTensors adamChunk() {
        int w = s.blockWidth(), ctx = s.contextWidth();
        int[][] tensors = {
                {w, w}, {w, w}, {w, w}, {w, w}, {w},                  // attn1 to_q, to_k, to_v, to_out.0 (+ bias)
                {w, w}, {w, ctx}, {w, ctx}, {w, w}, {w},              // attn2
                {8 * w, w}, {8 * w}, {w, 4 * w}, {w},                 // ff.net.0.proj, ff.net.2
                {w}, {w}, {w}, {w}, {w}, {w}};                        // norm1..3 weight and bias
        AdamTensors a = new AdamTensors();
        for (int[] t : tensors) a.add(t);
        return a;
    }

    /**
     * Every Puppet-Master UNet parameter of at most 65,536 elements (biases, norm weights, small projections; the
     * preset's shapes, nothing loaded): 974 of its 1,664 tensors, 1,106,602 parameters. Launch-bound: one launch per
     * tensor made this ~974 launches; the multi-tensor kernel makes it one plus the table upload.
     */
    private AdamTensors adamSmallTensors() {
        AdamTensors a = new AdamTensors();
        for (Parameter p : new UNetSpatioTemporalConditionModel(ModelPresets.named("puppet-master").unet()).namedParameters().values())
            if (p.numel() <= 65536) a.add((int) p.numel());
        return a;
    }


    // ---- elementwise (elementwise.cu) -----------------------------------------------------------------

    /** act + (28, 1, 1, 320) broadcast (the resblock's temb add): act read + act written = 36.7 MB. */
    @Benchmark
    public double binaryAddBroadcast() {
        return done(gpu.binary(BinaryOp.ADD, x, perFrame));
    }

    /** act * act, same shapes (residuals, masks): 2 act read + act written = 55.0 MB. */
    @Benchmark
    public double binaryMul() {
        return done(gpu.binary(BinaryOp.MUL, x, x2));
    }

    /** SiLU of act: read + write = 36.7 MB. */
    @Benchmark
    public double unarySilu() {
        return done(gpu.unary(UnaryOp.SILU, x));
    }

    /** Exact (erf) GELU of act: read + write = 36.7 MB. */
    @Benchmark
    public double unaryGelu() {
        return done(gpu.unary(UnaryOp.GELU, x));
    }

    /** gy * SiLU'(x) over act: x, gy read + dx written = 55.0 MB. */
    @Benchmark
    public double unarySiluBackward() {
        return done(gpu.unaryBackward(UnaryOp.SILU, x, gy));
    }

    /** gy * GELU'(x) over act: x, gy read + dx written = 55.0 MB. */
    @Benchmark
    public double unaryGeluBackward() {
        return done(gpu.unaryBackward(UnaryOp.GELU, x, gy));
    }

    /** x * s + t over act (the sampler's scalings, F.scale): read + write = 36.7 MB. */
    @Benchmark
    public double affine() {
        return done(gpu.affine(x, 0.5, 0.25));
    }

    /** min(max(x, lo), hi) over act (the VAE posterior's log-variance, in prepare and train-vae): read + write = 36.7 MB. */
    @Benchmark
    public double clamp() {
        return done(gpu.clamp(x, -0.5, 0.5));
    }

    /** The same with s, t read from a device F64 vector (affine_dev: the captured sampler step's scalars): 36.7 MB. */
    @Benchmark
    public double affineFromDevice() {
        return done(gpu.affineFrom(x, coef, 1, 3));
    }

    /** y = a x + b y in place over act (the Euler update, EMA): x, y read + y written = 55.0 MB. */
    @Benchmark
    public double axpby() {
        gpu.axpby(0.5, x, 0.5, scratch);
        return done();
    }

    /** Fill act with a constant (parameter initialisation, the tuner's NaN-poisoned outputs): 18.35 MB written. */
    @Benchmark
    public double fill() {
        gpu.fill(scratch, 0);
        return done();
    }

    // ---- GEGLU (geglu.cu) -----------------------------------------------------------------------------

    /** First-level FF: p (28, 1024, 2560) -> (28, 1024, 1280): 146.8 MB read + 73.4 MB written = 220.2 MB (36.7 M erf). */
    @Benchmark
    public double geglu() {
        return done(gpu.geglu(proj));
    }

    /** Its backward: p 146.8 MB + gy 73.4 MB read, dp 146.8 MB written = 367.0 MB. */
    @Benchmark
    public double gegluBackward() {
        return done(gpu.gegluBackward(proj, projGy));
    }

    // ---- layer norm (norm.cu) -------------------------------------------------------------------------

    /**
     * LayerNorm over 320 channels of 28,672 tokens (28, 1024, 320): x 18.35 MB read, y 18.35 MB written, mean/rstd
     * F32 0.23 MB = 36.9 MB (the kernels read x twice: statistics, then apply, 55.3 MB).
     */
    @Benchmark
    public double layerNorm() {
        NormResult r = gpu.layerNorm(tokens, lnGamma, lnBeta, 1e-5);
        return done(r.y(), r.mean(), r.rstd());
    }

    /** Its backward {dx, dgamma, dbeta}: x, gy read + dx written = 55.0 MB, plus mean/rstd and the per-chunk parameter partials. */
    @Benchmark
    public double layerNormBackward() {
        Tensor[] r = gpu.layerNormBackward(tokens, lnGamma, lnSaved, tokensGy);
        return done(r);
    }

    // ---- resampling (resample.cu; the downsampler is a conv) -------------------------------------------

    /** up_blocks.2's upsampler: (28, 16, 16, 640) -> (28, 32, 32, 640): 9.18 MB read + 36.7 MB written = 45.9 MB. */
    @Benchmark
    public double upsampleNearest2x() {
        return done(gpu.upsampleNearest2x(small));
    }

    /** Its adjoint (each 2x2 block summed): 36.7 MB read + 9.18 MB written = 45.9 MB. */
    @Benchmark
    public double upsampleNearest2xBackward() {
        return done(gpu.upsampleNearest2xBackward(smallGy));
    }

    /**
     * The backend has no downsample op: the UNet's Downsample2D is a 3x3 conv, stride 2, pad 1 (ARCHITECTURE.md 2.3). down_blocks.0's:
     * act -> (28, 16, 16, 320): 2 x 7168 x 320 x (9 x 320) = 13.2 GFLOP.
     */
    @Benchmark
    public double downsampleConvStride2() {
        return done(gpu.conv2d(x, convW, convB, ConvSpec.of(2, 1)));
    }

    // ---- grid sample at the drag points (grid_sample.cu) ----------------------------------------------

    /**
     * Bilinear samples of the first-level features (28, 32, 32, 320) at 5 drag points per frame -> (28, 5, 320):
     * 4 texels x 44,800 = 0.36 MB read + 0.09 MB written. Launch-bound: this is the kernel's fixed cost.
     */
    @Benchmark
    public double gridSamplePoints() {
        return done(gpu.gridSamplePoints(feat, points));
    }

    /**
     * Its adjoint into (28, 32, 32, 320): the result is act-sized (18.35 MB written); the implementation also zero-fills
     * an F32 accumulator (36.7 MB) and casts it (36.7 MB read), 91.8 MB in all. Work per point is tiny.
     */
    @Benchmark
    public double gridSamplePointsBackward() {
        return done(gpu.gridSamplePointsBackward(pointsGy, points, feat.shape()));
    }

    // ---- Philox (philox.cu) ---------------------------------------------------------------------------

    /** fillRandom NORMAL into an F32 (28, 32, 32, 320): 9.18 M normals, 36.7 MB written. */
    @Benchmark
    public double fillRandomNormal() {
        gpu.fillRandom(f32Big, RandomKind.NORMAL, 7, 0);
        return done();
    }

    /** The real noise draw, F32 (2, 14, 4, 32, 32): 114,688 normals, 0.46 MB written. Launch-bound. */
    @Benchmark
    public double fillRandomNormalLatentNoise() {
        gpu.fillRandom(noise, RandomKind.NORMAL, 7, 0);
        return done();
    }

    // ---- optimiser (adam.cu) --------------------------------------------------------------------------

    /**
     * One AdamW step over a representative multi-tensor chunk ({@link #adamChunk}: one 1280-channel transformer block,
     * 20 tensors, 32,134,400 parameters): F32 param/m/v read and written (24 B), bf16 grad read (2 B), bf16 model copy
     * written (2 B) = 28 B per parameter = 899.8 MB.
     */
    @Benchmark
    public double adamStep() {
        adamBlock.step();
        return done();
    }

    /**
     * One AdamW step over the UNet's 974 small parameter tensors ({@link #adamSmallTensors}, 1,106,602 parameters):
     * 28 B per parameter = 31.0 MB, plus a 70 KB launch table uploaded. Measures the per-step overhead that the
     * multi-tensor launch removes.
     */
    @Benchmark
    public double adamStepSmallTensors() {
        adamSmall.step();
        return done();
    }

    // ---- copy / cast (copy.cu) ------------------------------------------------------------------------

    /** A 320-channel slice of the (28, 32, 32, 960) skip concat (strided bf16 view) -> contiguous F32: 18.35 MB read + 36.7 MB written = 55.0 MB. */
    @Benchmark
    public double copyStridedBf16ToF32() {
        try (Tensor slice = wide.narrow(3, s.c(), s.c())) {
            return done(gpu.copy(slice, DType.F32));
        }
    }

    /** F32 act into a 320-channel slice of the bf16 skip concat (copyInto a strided view): 36.7 MB read + 18.35 MB written = 55.0 MB. */
    @Benchmark
    public double copyIntoStridedF32ToBf16() {
        try (Tensor slice = wide.narrow(3, 2 * s.c(), s.c())) {
            gpu.copyInto(f32, slice);
            return done();
        }
    }

    // ---- sumTo (reduce.cu) ----------------------------------------------------------------------------

    /** The bias gradient: act summed to (320): 18.35 MB read (28,672 summands per output). */
    @Benchmark
    public double sumToChannels() {
        return done(gpu.sumTo(x, new int[]{s.c()}));
    }

    /** The per-frame temb-projection gradient: act summed to (28, 1, 1, 320): 18.35 MB read (1024 summands per output). */
    @Benchmark
    public double sumToPerFrame() {
        return done(gpu.sumTo(x, new int[]{s.n(), 1, 1, s.c()}));
    }

    // ---- GEMM paths (CudaGemm: cuBLAS, gemm_mma.cu, gemm.cu) -------------------------------------------

    /**
     * The first-level ff.net.0.proj: x (28672, 320) W^T (2560, 320) + bias, bf16 in and out, fp32 accumulation:
     * 2 x 28672 x 2560 x 320 = 47.0 GFLOP (x 18.35 MB + W 1.6 MB read, y 146.8 MB written). Default path: cuBLAS
     * when libcublas.so.12 loads, else gemm_mma.cu (the log line "CUDA GEMM: ..." says which).
     */
    @Benchmark
    public double linearDefaultPath() {
        return done(gpu.linear(tokens, linW, linB));
    }

    /**
     * The same product on our tensor-core kernel (kernels/gemm_mma.cu): this method's fork runs with
     * -Dpuppet.cuda.gemm=mma (the "# VM options" line shows it; with -f 0 or a command-line -jvmArgsAppend it would not).
     * 47.0 GFLOP.
     */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = "-Dpuppet.cuda.gemm=mma")
    public double linearMma() {
        return done(gpu.linear(tokens, linW, linB));
    }

    /** The same product on the tiled fp32-FMA kernel (kernels/gemm.cu), fork with -Dpuppet.cuda.gemm=tiled. 47.0 GFLOP. */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = "-Dpuppet.cuda.gemm=tiled")
    public double linearTiled() {
        return done(gpu.linear(tokens, linW, linB));
    }

    // ---- GEMM epilogues (epilogue.cuh) -----------------------------------------------------------------

    /**
     * The same projection with the GEGLU gate in the epilogue (sampling's feed-forward): 47.0 GFLOP, writing the
     * (28672, 1280) result (73.4 MB) instead of the 146.8 MB projection; compare with linearDefaultPath + geglu.
     */
    @Benchmark
    public double linearGegluFused() {
        return done(gpu.linearGeglu(tokens, linW, linB));
    }

    /** The unfused pair it replaces: the projection, then geglu.cu over it (146.8 MB written, read back). */
    @Benchmark
    public double linearThenGeglu() {
        try (Tensor p = gpu.linear(tokens, linW, linB)) {
            return done(gpu.geglu(p));
        }
    }

    /**
     * An attention out-projection with its residual in the epilogue: (28672, 320) x W^T (320, 320) + bias + x:
     * 5.9 GFLOP, x and the residual 18.35 MB each read, 18.35 MB written; compare with linearThenAdd.
     */
    @Benchmark
    public double linearResidualFused() {
        return done(gpu.linear(tokens, outW, outB, tokensGy));
    }

    /** The unfused pair: the out-projection, then the residual add (another 18.35 MB written, 36.7 MB read). */
    @Benchmark
    public double linearThenAdd() {
        try (Tensor y = gpu.linear(tokens, outW, outB)) {
            return done(gpu.binary(BinaryOp.ADD, y, tokensGy));
        }
    }
}
