package dev.puppetengine.bench;

import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The CPU reference backend's hot paths in sampling (a profile of README's sample: the GEMM under linear and conv,
 * GEGLU's erf, attention, group norm, elementwise) at the shapes the toy model (preset "toy", models/toy) runs them,
 * plus the conv gradients training adds and a square GEMM for the kernel's own throughput.
 * Run: java -jar target/benchmarks.jar CpuOpsBenchmark
 *
 * <p>Each result is closed in the call, and every state checks at each iteration's end that the backend holds no more
 * memory than after setup ({@link BenchMemory}, as the CUDA benchmarks), so a benchmark that stops freeing its results
 * fails instead of timing a growing heap.
 * The returned element count only gives the method a result: the outputs cannot be optimised away, since each is
 * registered with the trial's {@link Scope} (a heap set) when made. CI runs every method briefly (.ci/run).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CpuOpsBenchmark {
    private static final CpuBackend CPU = CpuBackend.get();

    /** The inputs of one trial, owned by one scope; their memory is the baseline a leak is measured against. */
    public abstract static class Inputs {
        private Scope scope;
        private final BenchMemory memory = new BenchMemory(CPU);

        abstract void make();

        @Setup(Level.Trial)
        public void setup() {
            scope = Scope.open();
            make();
            memory.inputsMade();
        }

        @TearDown(Level.Iteration)
        public void checkFreed() {
            memory.checkFreed();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }

        /** {@link BenchMemory#done}: frees a call's results; their element count is the method's result. */
        double done(Tensor... ts) {
            return memory.done(ts);
        }
    }

    /** Square GEMM: the CpuGemm kernel's throughput, 2 n^3 FLOP; a kernel size, not a model shape. */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Square extends Inputs {
        @Param({"256", "512"})
        public int n;

        Tensor a, b;

        @Override
        void make() {
            a = random(n, n);
            b = random(n, n);
        }
    }

    /**
     * One level of the toy UNet as sampling runs it: CFG batch 2 x 14 frames, the 64 x 64 preset's 8 x 8 latents
     * halved per level, the level's channels and heads; level 0 is 32 channels at 8 x 8 (1 head), level 1 64 at
     * 4 x 4 (2 heads). Taken from the preset, so they follow it.
     */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Shapes extends Inputs {
        @Param({"0", "1"})
        public int level;

        int heads, groups;
        double scale;
        Tensor x, gy, temb, convW, convB, video, temporalW, tokens, residual, ffW, ffB, outW, outB, kvFrame0, context, temporalTokens,
                normW, normB;

        @Override
        void make() {
            ModelPresets toy = ModelPresets.named("toy");
            UNetConfig cfg = toy.unet();
            int videos = 2, frames = cfg.numFrames(), n = videos * frames;
            int side = (toy.resolution() / toy.vae().downscaleFactor()) >> level, hw = side * side;
            int c = cfg.blockOutChannels().get(level);
            heads = cfg.numAttentionHeads().get(level);
            groups = cfg.normNumGroups();
            scale = 1 / Math.sqrt((double) c / heads);
            x = random(n, side, side, c);
            gy = random(n, side, side, c);
            temb = random(n, 1, 1, c);                      // the resblock's time embedding, broadcast over pixels
            convW = random(c, 3, 3, c);
            convB = random(c);
            video = random(videos, frames, hw, c);          // the temporal resblock's (3,1,1) conv as a 3x1 conv
            temporalW = random(c, 3, 1, c);
            tokens = random(n, hw, c);                      // the transformer's (N, HW, C) tokens
            residual = random(n, hw, c);
            ffW = random(8 * c, c);                         // ff.net.0.proj: C -> 2 x 4C, GEGLU-gated to 4C
            ffB = random(8 * c);
            outW = random(c, c);                            // an attention's to_out.0
            outB = random(c);
            kvFrame0 = random(cfg.allToFirstAttention() ? videos : n, hw, c);   // all-to-first: frame 0's K/V per video
            context = random(n, 1 + cfg.numDrags(), c);     // the CLIP token and one per drag
            temporalTokens = random(videos * hw, frames, c);
            normW = random(c);
            normB = random(c);
        }
    }

    /**
     * The toy VAE decoder's 3x3 conv at 32 x 32 (32 channels, one of its two costliest levels), over the 14 frames
     * that sampling decodes in one batch.
     */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Vae extends Inputs {
        Tensor x, w, b;

        @Override
        void make() {
            ModelPresets toy = ModelPresets.named("toy");
            int side = toy.resolution() / 2, c = toy.vae().blockOutChannels().get(1);
            x = random(toy.unet().numFrames(), side, side, c);
            w = random(c, 3, 3, c);
            b = random(c);
        }
    }

    private static Tensor random(int... shape) {
        Tensor t = CPU.empty(DType.F32, shape);
        CPU.fillRandom(t, RandomKind.NORMAL, 1, 0);
        return t;
    }

    @Benchmark
    public double matmul(Square s) {
        return s.done(CPU.matmul(s.a, s.b));
    }

    // ---- transformer block -------------------------------------------------------------------------------

    /** ff.net.0.proj with the GEGLU gate (sampling's feed-forward): 2 x tokens x 8C x C FLOP plus tokens x 4C erf. */
    @Benchmark
    public double linearGeglu(Shapes s) {
        return s.done(CPU.linearGeglu(s.tokens, s.ffW, s.ffB));
    }

    /** An attention's out-projection with its residual add. */
    @Benchmark
    public double linearResidual(Shapes s) {
        return s.done(CPU.linear(s.tokens, s.outW, s.outB, s.residual));
    }

    /** Spatial self-attention, all-to-first as the toy config has it: every frame's queries on its video's frame 0. */
    @Benchmark
    public double attentionSpatial(Shapes s) {
        AttentionResult r = CPU.attention(s.tokens, s.kvFrame0, s.kvFrame0, s.heads, s.scale);
        return s.done(r.out(), r.lse());
    }

    /** Cross-attention to the 1 + 5 drag/CLIP context tokens. */
    @Benchmark
    public double attentionCross(Shapes s) {
        AttentionResult r = CPU.attention(s.tokens, s.context, s.context, s.heads, s.scale);
        return s.done(r.out(), r.lse());
    }

    /** Temporal attention: each pixel's 14 frames. */
    @Benchmark
    public double attentionTemporal(Shapes s) {
        AttentionResult r = CPU.attention(s.temporalTokens, s.temporalTokens, s.temporalTokens, s.heads, s.scale);
        return s.done(r.out(), r.lse());
    }

    @Benchmark
    public double layerNorm(Shapes s) {
        NormResult r = CPU.layerNorm(s.tokens, s.normW, s.normB, 1e-5);
        return s.done(r.y(), r.mean(), r.rstd());
    }

    // ---- resnet block ------------------------------------------------------------------------------------

    @Benchmark
    public double groupNormSilu(Shapes s) {
        NormResult r = CPU.groupNorm(s.x, s.normW, s.normB, s.groups, 1e-5, true);
        return s.done(r.y(), r.mean(), r.rstd());
    }

    /** The resnet's 3x3 conv with bias, stride 1, pad 1. */
    @Benchmark
    public double conv3x3Forward(Shapes s) {
        return s.done(CPU.conv2d(s.x, s.convW, s.convB, ConvSpec.of(1, 1)));
    }

    /** The temporal resnet's (3,1,1) conv. */
    @Benchmark
    public double temporalConv(Shapes s) {
        return s.done(CPU.conv2d(s.video, s.temporalW, s.convB, new ConvSpec(1, 1, 1, 1, 0, 0)));
    }

    @Benchmark
    public double vaeDecoderConv3x3(Vae v) {
        return v.done(CPU.conv2d(v.x, v.w, v.b, ConvSpec.of(1, 1)));
    }

    /** The time embedding added over every pixel (broadcast binary). */
    @Benchmark
    public double addBroadcast(Shapes s) {
        return s.done(CPU.binary(BinaryOp.ADD, s.x, s.temb));
    }

    @Benchmark
    public double silu(Shapes s) {
        return s.done(CPU.unary(UnaryOp.SILU, s.x));
    }

    // ---- training ----------------------------------------------------------------------------------------

    @Benchmark
    public double conv3x3BackwardInput(Shapes s) {
        return s.done(CPU.conv2dBackwardInput(s.gy, s.convW, s.x.shape(), ConvSpec.of(1, 1)));
    }

    @Benchmark
    public double conv3x3BackwardWeight(Shapes s) {
        return s.done(CPU.conv2dBackwardWeight(s.gy, s.x, s.convW.shape(), ConvSpec.of(1, 1)));
    }
}
