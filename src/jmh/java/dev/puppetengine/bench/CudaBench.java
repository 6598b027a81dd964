package dev.puppetengine.bench;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

/**
 * The setup the CUDA benchmark classes share: the CUDA backend (or {@link CudaUnavailableException} from
 * {@link #open()}, which fails the JMH trial with the backend's one-line reason, e.g. no libcuda / no device), one
 * {@link Scope} owning every input tensor for the trial, random inputs, and {@link #done} to end a timed call.
 * Not a JMH state itself: each benchmark class holds one from its {@code @Setup(Level.Trial)} and closes it in its
 * {@code @TearDown}.
 */
final class CudaBench implements AutoCloseable {
    /** The spec's first-level shapes: CFG batch 2 videos of 14 frames, 32 x 32 latents, 320 channels, 5 heads. */
    static final int VIDEOS = 2, FRAMES = 14, SIDE = 32, C = 320, HEADS = 5, N = VIDEOS * FRAMES, L = SIDE * SIDE;

    final CudaBackend gpu;
    private final Scope scope;

    private CudaBench(CudaBackend gpu) {
        this.gpu = gpu;
        this.scope = Scope.open();
    }

    /** The CUDA backend on device 0 and a fresh scope for the trial's inputs. */
    static CudaBench open() throws CudaUnavailableException {
        return new CudaBench(CudaBackend.get());
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

    /** Ends a timed call: waits for the queued kernels, then frees its results. Returns their element count (for the blackhole). */
    double done(Tensor... ts) {
        gpu.synchronize();
        double n = 0;
        for (Tensor t : ts) {
            n += t.numel();
            t.close();
        }
        return n;
    }

    @Override
    public void close() {
        scope.close();
    }
}
