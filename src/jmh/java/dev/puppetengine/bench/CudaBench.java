package dev.puppetengine.bench;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

/**
 * The setup the CUDA benchmark classes share: the CUDA backend (or {@link CudaUnavailableException} from
 * {@link #open}, which fails the JMH trial with the backend's one-line reason, e.g. no libcuda / no device), the
 * trial's {@link Shapes}, one {@link Scope} owning every input tensor for the trial, random inputs, {@link #done}
 * to end a timed call, and {@link #checkFreed} against a benchmark that stops freeing its results (it would time a
 * growing device heap, and run out of memory at the spec's shapes). Not a JMH state itself: each benchmark class holds
 * one from its {@code @Setup(Level.Trial)}, calls {@link #inputsMade} at its end and {@link #checkFreed} after each
 * iteration, and closes it in its {@code @TearDown}.
 */
final class CudaBench implements AutoCloseable {
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

    final CudaBackend gpu;
    final Shapes shapes;
    private final Scope scope;
    private final BenchMemory memory;

    private CudaBench(CudaBackend gpu, Shapes shapes) {
        this.gpu = gpu;
        this.shapes = shapes;
        this.scope = Scope.open();
        this.memory = new BenchMemory(gpu);
    }

    /** The CUDA backend on device 0, the named {@link Shapes} and a fresh scope for the trial's inputs. */
    static CudaBench open(String shapes) throws CudaUnavailableException {
        Shapes s = Shapes.named(shapes);   // before the backend: a wrong name fails on any machine
        return new CudaBench(CudaBackend.get(), s);
    }

    /** A bf16 tensor of standard normals (Philox seed 1). */
    Tensor random(int... shape) {
        return random(DType.BF16, RandomKind.NORMAL, shape);
    }

    Tensor random(DType dtype, RandomKind kind, int... shape) {
        Tensor t = gpu.empty(dtype, shape);
        gpu.fillRandom(t, kind, 1, 0);
        return t;
    }

    /** {@link BenchMemory#done}. */
    double done(Tensor... ts) {
        return memory.done(ts);
    }

    /** {@link BenchMemory#inputsMade}. */
    void inputsMade() {
        memory.inputsMade();
    }

    /** {@link BenchMemory#checkFreed}. */
    void checkFreed() {
        memory.checkFreed();
    }

    @Override
    public void close() {
        scope.close();
    }
}
