package dev.puppetengine.autograd;

/**
 * Counts the FLOPs of the matrix ops (matmul, linear, conv, attention: 2 per multiply-add) that pass through
 * {@link F} on this thread while counting is on, forward ops and the products of their backward closures (input and
 * weight gradients; attention's four, not a kernel's recompute of the scores) as they run; the benchmark harness uses
 * it for achieved TFLOP/s and MFU. Element-wise ops are not counted (they are bandwidth, not FLOPs, in the roofline sense).
 */
public final class FlopCount {
    private FlopCount() {}

    /** [0]: forward ops (a checkpointed forward's recompute in backward included), [1]: backward products. */
    private static final ThreadLocal<long[]> COUNTER = new ThreadLocal<>();

    /** Starts counting on this thread (from zero). */
    public static void start() { COUNTER.set(new long[2]); }

    /** FLOPs counted since {@link #start}, forward and backward; 0 when not counting. */
    public static long current() {
        long[] c = COUNTER.get();
        return c == null ? 0 : c[0] + c[1];
    }

    /** The part of {@link #current} that backward closures' gradient products did. */
    public static long backward() {
        long[] c = COUNTER.get();
        return c == null ? 0 : c[1];
    }

    /** Stops counting; returns the total. */
    public static long stop() {
        long n = current();
        COUNTER.remove();
        return n;
    }

    /**
     * Corrects the count for work that did not pass through {@link F} as it ran: a CUDA graph capture counts its
     * step's FLOPs without running them (subtract), each replay runs them without Java calls (add).
     */
    public static void adjust(long flops) { add(flops); }

    static void add(long flops) {
        long[] c = COUNTER.get();
        if (c != null) c[0] += flops;
    }

    static void addBackward(long flops) {
        long[] c = COUNTER.get();
        if (c != null) c[1] += flops;
    }
}
