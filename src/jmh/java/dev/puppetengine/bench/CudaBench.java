package dev.puppetengine.bench;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The JMH state the CUDA benchmark classes extend: the {@code shapes} parameter and the trial's {@link Shapes}, the
 * CUDA backend (or {@link CudaUnavailableException} from {@link #open}, which fails the JMH trial with the backend's
 * one-line reason, e.g. no libcuda / no device), one {@link Scope} owning every input tensor for the trial, random
 * inputs, {@link #done} to end a timed call, and {@link #checkFreed} after each iteration against a benchmark that stops
 * freeing its results (it would time a growing device heap, and run out of memory at the spec's shapes). A subclass's
 * {@code @Setup(Level.Trial)} calls {@link #open} first and {@link #inputsMade} last; JMH runs the teardowns here.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public abstract class CudaBench {
    /**
     * The shapes of a trial, picked by the benchmark classes' {@code shapes} parameter. "spec" (the default; every
     * javadoc figure is for it): CFG batch 2 videos of 14 frames, 32 x 32 latents, 320 channels in 5 heads of 64; CLIP
     * ViT-H/14's 257 tokens in 16 heads of 80; a 1280-channel transformer block with 1024-wide context for AdamW.
     * "tiny" ({@code -p shapes=tiny}): the same structure small enough for the SIMT emulator (the CI smoke run): 2 videos
     * of 3 frames, 8 x 8 latents, 128 channels (heads of 64, 32 groups, GEGLU's 4C a multiple of 8, rows of 16-byte
     * multiples), CLIP's head dim 80 in 2 heads over 17 tokens, a 128-channel block with 64-wide context.
     */
    record Shapes(int videos, int frames, int side, int c, int heads, int clipTokens, int clipHeads, int blockWidth, int contextWidth) {
        static Shapes named(String name) {
            return switch (name) {
                case "spec" -> new Shapes(2, 14, 32, 320, 5, 257, 16, 1280, 1024);
                case "tiny" -> new Shapes(2, 3, 8, 128, 2, 17, 2, 128, 64);
                default -> throw new IllegalArgumentException("unknown shapes '" + name + "' (expected spec or tiny)");
            };
        }

        /** Frames in the batch. */
        int n() { return videos * frames; }

        /** Pixels per frame. */
        int l() { return side * side; }

        /** The attention scale of a head of the first level. */
        double scale() { return 1 / Math.sqrt(c / heads); }
    }

    /** {@link Shapes}: "spec", or "tiny" for a smoke run on the SIMT emulator. */
    @Param("spec")
    public String shapes;

    protected CudaBackend gpu;
    protected Shapes s;
    private Scope scope;
    private BenchMemory memory;

    /** The named {@link Shapes}, the CUDA backend on device 0 and a fresh scope for the trial's inputs. */
    protected void open() throws CudaUnavailableException {
        s = Shapes.named(shapes);   // before the backend: a wrong name fails on any machine
        gpu = CudaBackend.get();
        scope = Scope.open();
        memory = new BenchMemory(gpu);
    }

    /** A bf16 tensor of standard normals (Philox seed 1). */
    protected Tensor random(int... shape) {
        return random(DType.BF16, RandomKind.NORMAL, shape);
    }

    protected Tensor random(DType dtype, RandomKind kind, int... shape) {
        Tensor t = gpu.empty(dtype, shape);
        gpu.fillRandom(t, kind, 1, 0);
        return t;
    }

    /** {@link BenchMemory#done}. */
    protected double done(Tensor... ts) {
        return memory.done(ts);
    }

    /** {@link BenchMemory#inputsMade}. */
    protected void inputsMade() {
        memory.inputsMade();
    }

    /** {@link BenchMemory#checkFreed}. */
    @TearDown(Level.Iteration)
    public void checkFreed() {
        memory.checkFreed();
    }

    @TearDown(Level.Trial)
    public void close() {
        if (scope != null) scope.close();
    }
}
