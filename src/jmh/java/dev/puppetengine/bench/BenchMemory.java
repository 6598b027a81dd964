package dev.puppetengine.bench;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.Tensor;

/**
 * What every benchmark state does with memory, on any backend: {@link #done} ends a timed call (waits for queued
 * work, frees its results), and the backend's bytes in use after each iteration must equal those after setup
 * ({@link #inputsMade}, {@link #checkFreed}): a benchmark that stops freeing its results would time a growing heap (and
 * run out of memory at the spec's shapes); one that frees an input would time work on freed memory.
 */
final class BenchMemory {
    private final Backend backend;
    private long baseline;

    BenchMemory(Backend backend) {
        this.backend = backend;
    }

    /** Ends a timed call: waits for the queued kernels, then frees its results. Returns their element count (the method's result). */
    double done(Tensor... ts) {
        backend.synchronize();
        double n = 0;
        for (Tensor t : ts) {
            n += t.numel();
            t.close();
        }
        return n;
    }

    /** Ends the setup: the memory in use now is what every iteration must leave. */
    void inputsMade() {
        baseline = backend.bytesInUse();
    }

    /** Fails the trial if an iteration changed the memory in use: results not freed by {@link #done}, or inputs closed. */
    void checkFreed() {
        long grown = backend.bytesInUse() - baseline;
        if (grown > 0) throw new IllegalStateException(grown + " bytes of benchmark results not freed after an iteration");
        if (grown < 0) throw new IllegalStateException(-grown + " bytes of the trial's inputs freed during an iteration");
    }
}
