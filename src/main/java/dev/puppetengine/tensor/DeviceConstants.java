package dev.puppetengine.tensor;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A per-thread memo of device constants built from host values inside a model's forward (sinusoid frequencies,
 * frame indices, the drag conditioning built from the drag tensor), so that repeated forwards of one sampling run
 * upload them once, and of values computed from the weights and those constants alone (nn.Module#stepInvariant:
 * the drag FiLM), so they are computed once: samplers open one around their loop, while the weights cannot change.
 * The CUDA-graph sampler's eager warm-up step fills it and the
 * captured step then finds every constant already on the device (no host transfer inside the capture). While
 * {@link #freeze frozen} a miss is an error (the capture then fails loudly and the sampler falls back to eager).
 *
 * <p>With no memo open, {@link #get} simply builds the value in the current scope (eager code needs no memo).
 * Memoised values are owned by the memo's own scope and freed when it closes. Confined to its thread.
 */
public final class DeviceConstants implements AutoCloseable {
    private static final ThreadLocal<DeviceConstants> CURRENT = new ThreadLocal<>();

    private final DeviceConstants previous;
    private final Scope scope = Scope.detached();
    private final Map<Object, Object> memo = new HashMap<>();
    private String frozen;
    private boolean closed;

    private DeviceConstants(DeviceConstants previous) { this.previous = previous; }

    /** Opens a memo and makes it this thread's current one until closed. */
    public static DeviceConstants open() {
        DeviceConstants c = new DeviceConstants(CURRENT.get());
        CURRENT.set(c);
        return c;
    }

    /**
     * The value for {@code key}: memoised in the current memo (built on first use, its tensors owned by the memo),
     * or, with no memo open, built now in the current scope. {@code key} must capture everything the value depends
     * on (backend, dtype, sizes; wrap tensors with {@link #identity}).
     */
    @SuppressWarnings("unchecked")
    public static <T> T get(Object key, Supplier<T> make) {
        DeviceConstants c = CURRENT.get();
        if (c == null) return make.get();
        Object v = c.memo.get(key);
        if (v != null) return (T) v;
        if (c.frozen != null)
            throw new IllegalStateException("device constant " + key + " is not on the device yet and would be uploaded during "
                    + c.frozen + " (build it in a step before)");
        T made;
        try (Scope.Use u = c.scope.use()) {
            made = make.get();
        }
        c.memo.put(key, made);
        return made;
    }

    /** A key part that compares by identity (a tensor whose contents the value was built from). */
    public static Object identity(Object o) { return new Identity(o); }

    private record Identity(Object o) {
        @Override public boolean equals(Object other) { return other instanceof Identity i && i.o == o; }
        @Override public int hashCode() { return System.identityHashCode(o); }
        @Override public String toString() { return "identity(" + o + ")"; }
    }

    /** Until the returned guard closes, a miss throws (naming {@code why}) instead of building. */
    public Freeze freeze(String why) {
        String prev = frozen;
        frozen = why;
        return () -> frozen = prev;
    }

    public interface Freeze extends AutoCloseable {
        @Override void close();
    }

    /** Memoised values. */
    public int size() { return memo.size(); }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (CURRENT.get() == this) {
            DeviceConstants p = previous;
            while (p != null && p.closed) p = p.previous;   // one closed out of order (before this) is not current again
            if (p == null) CURRENT.remove();
            else CURRENT.set(p);
        }
        memo.clear();
        scope.close();
    }
}
