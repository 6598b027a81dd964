package dev.puppetengine.backend.cpu;

import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Parallel loops for the CPU backend. Each index is one independent task that owns its outputs, so results
 * do not depend on the number of threads or their schedule.
 */
final class Parallel {
    private Parallel() {}

    /** Runs body(0..n-1); in parallel when the total work (n * workPerItem, in flops or so) is worth it. */
    static void forEach(int n, long workPerItem, IntConsumer body) {
        if (n <= 1 || (long) n * workPerItem < 200_000) {
            for (int i = 0; i < n; i++) body.accept(i);
        } else {
            IntStream.range(0, n).parallel().forEach(body);
        }
    }
}
