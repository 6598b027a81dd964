package dev.puppetengine.autograd;

/** Whether operations record the graph on this thread. {@code try (var g = GradMode.noGrad()) { ... }}. */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[]{true});

    private GradMode() {}

    public static boolean isEnabled() { return ENABLED.get()[0]; }

    public static Guard noGrad() { return set(false); }

    public static Guard enableGrad() { return set(true); }

    private static Guard set(boolean on) {
        boolean[] cell = ENABLED.get();
        Guard g = new Guard(cell, cell[0]);
        cell[0] = on;
        return g;
    }

    /** Restores the previous mode on close. */
    public static final class Guard implements AutoCloseable {
        private final boolean[] cell;
        private final boolean previous;

        private Guard(boolean[] cell, boolean previous) {
            this.cell = cell;
            this.previous = previous;
        }

        @Override
        public void close() { cell[0] = previous; }
    }
}
