package dev.puppetengine.bench;

import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
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

import java.util.concurrent.TimeUnit;

/**
 * The fused CUDA kernels at the spec's first-level shapes (14 frames, 32 x 32 latents, 320 channels, 5 heads,
 * batch 2 for CFG: N = 28 frames), bf16: all-to-first attention (frame-0 K/V shared, never replicated),
 * cross-attention to the 1 + 5 token context, temporal attention over 14 frames per pixel, GroupNorm+SiLU,
 * FiLM, the (3,1,1) temporal conv and a 3x3 conv. Each call is synchronised so the time is the kernel's.
 * Needs a usable CUDA device (setup fails otherwise). Run: java -jar target/benchmarks.jar CudaKernelsBenchmark
 * The other kernels (elementwise, GEGLU, layer norm, resampling, grid sample, Philox, Adam, copy/cast,
 * sumTo, the GEMM paths) are in {@link CudaOpsBenchmark}; both share {@link CudaBench}.
 *
 * <p>Each method's javadoc gives what one call must do at the default shapes (MB = 10^6 bytes, bf16 = 2 bytes, one
 * activation (28, 32, 32, 320) bf16 = 18.35 MB), so a time converts to GB/s or TFLOP/s.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CudaKernelsBenchmark extends CudaBench {
    /** The 1 + 5 tokens of the drag context. */
    private static final int TOKENS = 6;

    private Tensor tokens, kvFrame0, context, temporalTokens, x, temporalX, mix, gamma, beta, normW, normB, video, temporalW, convW, gy, gyDown;
    private Tensor vaeMid, clipTokens;
    private AttentionResult allToFirst;

    @Setup(Level.Trial)
    public void setup() throws CudaUnavailableException {
        open();
        int n = s.n(), l = s.l(), side = s.side(), c = s.c();
        tokens = random(n, l, c);                         // queries of every frame
        kvFrame0 = random(s.videos(), l, c);              // frame 0's keys/values, one per video
        context = random(n, TOKENS, c);
        temporalTokens = random(s.videos() * l, s.frames(), c);   // each pixel's 14 frames
        x = random(n, side, side, c);
        temporalX = random(n, side, side, c);
        mix = random(1);
        gamma = random(n, side, side, c);
        beta = random(n, side, side, c);
        normW = random(c);
        normB = random(c);
        video = random(s.videos(), s.frames(), l, c);
        temporalW = random(c, 3, 1, c);
        convW = random(c, 3, 3, c);
        gy = random(n, side, side, c);
        gyDown = random(n, side / 2, side / 2, c);        // a downsampler's output gradient (3x3, stride 2, pad 1)
        allToFirst = gpu.attention(tokens, kvFrame0, kvFrame0, s.heads(), s.scale());
        vaeMid = random(s.frames(), l, 512);              // the VAE decoder's mid block: 14 frames of 32 x 32 latents, one 512-wide head
        clipTokens = random(1, s.clipTokens(), s.clipHeads() * 80);   // ViT-H/14's 16 x 16 patches + class token, 16 heads of 80
        inputsMade();
    }


    /** 4 x Bq x Lq x Lk x C = 4 x 28 x 1024 x 1024 x 320 = 37.6 GFLOP (QK^T and PV); q read + out written 36.7 MB, frame 0's K/V 2.6 MB. */
    @Benchmark
    public double allToFirstAttention() {
        AttentionResult r = gpu.attention(tokens, kvFrame0, kvFrame0, s.heads(), s.scale());
        return done(r.out(), r.lse());
    }

    /** 4 x 28 x 1024 x 6 x 320 = 0.22 GFLOP: memory-bound, q read + out written 36.7 MB (K/V 0.2 MB, LSE 0.6 MB). */
    @Benchmark
    public double crossAttentionToDragContext() {
        AttentionResult r = gpu.attention(tokens, context, context, s.heads(), s.scale());
        return done(r.out(), r.lse());
    }

    /** 4 x 2048 x 14 x 14 x 320 = 0.51 GFLOP: memory-bound, q = k = v read (18.35 MB at least once) + out written 18.35 MB. */
    @Benchmark
    public double temporalAttention() {
        AttentionResult r = gpu.attention(temporalTokens, temporalTokens, temporalTokens, s.heads(), s.scale());
        return done(r.out(), r.lse());
    }

    /**
     * kernels/attention.cu's wide entry (head dim 512 > 256): the SVD VAE decoder's mid-block self-attention, 4 x 14 x 1024
     * x 1024 x 512 = 30.1 GFLOP in fp32 CUDA cores, q = k = v read + out written 29.4 MB.
     */
    @Benchmark
    public double vaeMidBlockAttention() {
        AttentionResult r = gpu.attention(vaeMid, vaeMid, vaeMid, 1, 1 / Math.sqrt(512));
        return done(r.out(), r.lse());
    }

    /** kernels/attention.cu at head dim 80 (not the tensor-core kernel's 64): one CLIP ViT-H/14 layer's attention, 4 x 257 x 257 x 1280 = 0.34 GFLOP. */
    @Benchmark
    public double clipAttention() {
        AttentionResult r = gpu.attention(clipTokens, clipTokens, clipTokens, s.clipHeads(), 1 / Math.sqrt(80));
        return done(r.out(), r.lse());
    }

    /** x read for the statistics and again for the apply, y written: 3 x 18.35 = 55.0 MB (36.7 MB if x were read once). */
    @Benchmark
    public double groupNormSilu() {
        NormResult r = gpu.groupNorm(x, normW, normB, 32, 1e-5, true);
        return done(r.y(), r.mean(), r.rstd());
    }

    /** A drag layer's resblock output: spatial and temporal branch, gamma, beta read + y written: 5 x 18.35 = 91.8 MB. */
    @Benchmark
    public double blendFilm() {
        return done(gpu.blendFilm(x, temporalX, mix, gamma, beta));
    }

    /** (3,1,1) temporal conv as a 3x1 conv over (2, 14, 1024, 320): 2 x 28672 x 320 x (3 x 320) = 17.6 GFLOP. */
    @Benchmark
    public double temporalConv() {
        return done(gpu.conv2d(video, temporalW, normB, new ConvSpec(1, 1, 1, 1, 0, 0)));
    }

    /** 2 x 28672 x 320 x (9 x 320) = 52.8 GFLOP (stride 1, pad 1, 320 -> 320 at 32 x 32). */
    @Benchmark
    public double conv3x3() {
        return done(gpu.conv2d(x, convW, normB, ConvSpec.of(1, 1)));
    }

    /**
     * Backward of {@link #allToFirstAttention}: recomputes QK^T, then dP, dQ, dK, dV (2.5x the forward's FLOPs:
     * 94 GFLOP); frame 0's dK/dV sum all 14 frames of their video.
     */
    @Benchmark
    public double allToFirstAttentionBackward() {
        Tensor[] g = gpu.attentionBackward(tokens, kvFrame0, kvFrame0, allToFirst, tokens, s.heads(), s.scale());
        return done(g);
    }

    /** Input gradient of {@link #conv3x3}: 52.8 GFLOP (stride 1: an implicit GEMM on gy and the flipped weights). */
    @Benchmark
    public double conv3x3BackwardInput() {
        return done(gpu.conv2dBackwardInput(gy, convW, x.shape(), ConvSpec.of(1, 1)));
    }

    /**
     * Input gradient of a downsampler (3x3, stride 2, pad 1, x as {@link #conv3x3}'s): 13.2 GFLOP of products, but the
     * implicit GEMM multiplies gy dilated by 2 (three of four gathered values zero), so the kernel runs 52.8 GFLOP;
     * where cuBLAS loads the tuner may pick GEMM + col2im instead.
     */
    @Benchmark
    public double downsampleBackwardInput() {
        return done(gpu.conv2dBackwardInput(gyDown, convW, x.shape(), ConvSpec.of(2, 1)));
    }

    /** Weight gradient of {@link #conv3x3}: 52.8 GFLOP (gy^T times the gathered im2col of x). */
    @Benchmark
    public double conv3x3BackwardWeight() {
        return done(gpu.conv2dBackwardWeight(gy, x, convW.shape(), ConvSpec.of(1, 1)));
    }
}
