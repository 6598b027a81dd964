package dev.puppetengine.eval;

/** Mean and sample standard deviation (n - 1; 0 for one value) of the defined (non-NaN) values. */
public record Summary(int n, double mean, double std) {

    public static Summary of(double[] values) {
        int n = 0;
        double sum = 0;
        for (double v : values) if (!Double.isNaN(v)) { n++; sum += v; }
        double mean = n > 0 ? sum / n : Double.NaN, ss = 0;
        for (double v : values) if (!Double.isNaN(v)) ss += (v - mean) * (v - mean);
        return new Summary(n, mean, n > 1 ? Math.sqrt(ss / (n - 1)) : n == 1 ? 0 : Double.NaN);
    }
}
