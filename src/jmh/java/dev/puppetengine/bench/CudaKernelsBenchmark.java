package dev.puppetengine.bench;

import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
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
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The fused CUDA kernels at the spec's first-level shapes (14 frames, 32 x 32 latents, 320 channels, 5 heads,
 * batch 2 for CFG: N = 28 frames), bf16: all-to-first attention (frame-0 K/V shared, never replicated),
 * cross-attention to the 1 + 5 token context, temporal attention over 14 frames per pixel, GroupNorm+SiLU,
 * FiLM, the (3,1,1) temporal conv and a 3x3 conv. Each call is synchronised so the time is the kernel's.
 * Needs a usable CUDA device (setup fails otherwise). Run: java -jar target/benchmarks.jar CudaKernelsBenchmark
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CudaKernelsBenchmark {
    private static final int VIDEOS = 2, FRAMES = 14, SIDE = 32, C = 320, HEADS = 5, TOKENS = 6;

    private CudaBackend gpu;
    private Scope scope;
    private Tensor tokens, kvFrame0, context, temporalTokens, x, gamma, beta, normW, normB, video, temporalW, convW;

    @Setup(Level.Trial)
    public void setup() throws CudaUnavailableException {
        gpu = CudaBackend.get();
        scope = Scope.open();
        int n = VIDEOS * FRAMES, l = SIDE * SIDE;
        tokens = random(n, l, C);                         // queries of every frame
        kvFrame0 = random(VIDEOS, l, C);                  // frame 0's keys/values, one per video
        context = random(n, TOKENS, C);
        temporalTokens = random(VIDEOS * l, FRAMES, C);   // each pixel's 14 frames
        x = random(n, SIDE, SIDE, C);
        gamma = random(n, SIDE, SIDE, C);
        beta = random(n, SIDE, SIDE, C);
        normW = random(C);
        normB = random(C);
        video = random(VIDEOS, FRAMES, SIDE * SIDE, C);
        temporalW = random(C, 3, 1, C);
        convW = random(C, 3, 3, C);
    }

    private Tensor random(int... shape) {
        Tensor t = gpu.empty(DType.BF16, shape);
        gpu.fillRandom(t, RandomKind.NORMAL, 1, 0);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    private double done(Tensor... ts) {
        gpu.synchronize();
        double n = 0;
        for (Tensor t : ts) {
            n += t.numel();
            t.close();
        }
        return n;
    }

    @Benchmark
    public double allToFirstAttention() {
        AttentionResult r = gpu.attention(tokens, kvFrame0, kvFrame0, HEADS, 1 / Math.sqrt(C / HEADS));
        return done(r.out(), r.lse());
    }

    @Benchmark
    public double crossAttentionToDragContext() {
        AttentionResult r = gpu.attention(tokens, context, context, HEADS, 1 / Math.sqrt(C / HEADS));
        return done(r.out(), r.lse());
    }

    @Benchmark
    public double temporalAttention() {
        AttentionResult r = gpu.attention(temporalTokens, temporalTokens, temporalTokens, HEADS, 1 / Math.sqrt(C / HEADS));
        return done(r.out(), r.lse());
    }

    @Benchmark
    public double groupNormSilu() {
        NormResult r = gpu.groupNorm(x, normW, normB, 32, 1e-5, true);
        return done(r.y(), r.mean(), r.rstd());
    }

    @Benchmark
    public double film() {
        return done(gpu.film(x, gamma, beta));
    }

    @Benchmark
    public double temporalConv() {
        return done(gpu.conv2d(video, temporalW, normB, new ConvSpec(1, 1, 1, 1, 0, 0)));
    }

    @Benchmark
    public double conv3x3() {
        return done(gpu.conv2d(x, convW, normB, ConvSpec.of(1, 1)));
    }
}
