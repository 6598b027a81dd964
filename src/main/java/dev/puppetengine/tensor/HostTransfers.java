package dev.puppetengine.tensor;

/**
 * A per-thread ban on host transfers ({@link Storage#read} / {@link Storage#write}: every {@code Tensor.of},
 * {@code copyFrom}, {@code toDoubleArray}, {@code item()}). The sampler's CUDA graph capture runs under it: a host
 * value read or uploaded inside a captured step would be baked into the graph (or break the capture), so it must
 * fail loudly, naming the buffer, instead. Nestable; the innermost reason is reported.
 */
public final class HostTransfers {
    private static final ThreadLocal<String> FORBIDDEN = new ThreadLocal<>();

    private HostTransfers() {}

    /** Forbids host transfers on this thread until the returned guard is closed. */
    public static Guard forbid(String why) {
        String prev = FORBIDDEN.get();
        FORBIDDEN.set(why);
        return new Guard(prev);
    }

    static void check(String op, Storage s) {
        String why = FORBIDDEN.get();
        if (why != null)
            throw new IllegalStateException("host " + op + " of a " + s.dtype() + "[" + s.numel() + "] " + s.backend().name()
                    + " buffer during " + why + ": host values must be uploaded before (or read after) this region");
    }

    public static final class Guard implements AutoCloseable {
        private final String previous;
        private boolean done;

        private Guard(String previous) { this.previous = previous; }

        @Override
        public void close() {
            if (done) return;
            done = true;
            if (previous == null) FORBIDDEN.remove();
            else FORBIDDEN.set(previous);
        }
    }
}
