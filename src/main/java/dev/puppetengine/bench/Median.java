package dev.puppetengine.bench;

/** The median the benchmarks report: one timed run's own value, the lower middle one for an even count (of two runs, the faster). */
public final class Median {
    private Median() {}

    /** The median's index among {@code n} values sorted ascending. */
    public static int index(int n) {
        if (n < 1) throw new IllegalArgumentException("no values to take a median of");
        return (n - 1) / 2;
    }
}
