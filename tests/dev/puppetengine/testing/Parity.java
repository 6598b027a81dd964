package dev.puppetengine.testing;

import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Collects named (reference, candidate) tensor comparisons and fails once, at the end, with every tensor over its
 * tolerance and the worst ones overall, so one run on a GPU shows all that is wrong rather than the first thing.
 * Metric per tensor: relative error ||got - ref||_2 / max(||ref||_2, floor). The floor (0 unless given) is for tensors
 * whose exact value is zero or nearly so by cancellation (e.g. the gradient of a conv bias that a per-channel group norm
 * removes): their computed values are rounding noise of the size of the terms summed, and a relative error of noise
 * says nothing, so such a tensor is held to tol x floor in absolute terms instead. A NaN or infinity in either side
 * fails (the device's allocations are NaN-poisoned, so an element no kernel wrote is a NaN), as does a shape mismatch;
 * a reference of all zeros (with no floor) passes only against all zeros.
 */
public final class Parity {

    /** One comparison. {@code rel} is +infinity for NaN/inf, a shape mismatch, or zeros against non-zeros. */
    public record Entry(String name, String shape, long numel, double rel, double maxAbs, double refNorm, double floor, long nonFinite, double tol,
                        String problem) {
        public boolean ok() { return problem == null && rel <= tol; }

        public String line() {
            return String.format(Locale.ROOT, "%-4s %-70s %-16s rel %-10.3g tol %-7.1g max|d| %-10.3g ||ref|| %-10.3g%s%s",
                    ok() ? "ok" : "FAIL", name, shape, rel, tol, maxAbs, refNorm, refNorm < floor ? " (floor " + String.format(Locale.ROOT, "%.3g", floor) + ")" : "",
                    problem == null ? "" : "  " + problem);
        }
    }

    private final String label;
    private final List<Entry> entries = new ArrayList<>();

    /** {@code label}: what is compared (printed first in a failure, with the seed or settings that reproduce it). */
    public Parity(String label) {
        this.label = label;
    }

    public List<Entry> entries() { return entries; }

    public Entry compare(String name, Tensor ref, Tensor got, double tol) {
        return compare(name, ref, got, tol, 0);
    }

    public Entry compare(String name, Tensor ref, Tensor got, double tol, double floor) {
        if (!Arrays.equals(ref.shape(), got.shape())) {
            Entry e = new Entry(name, Shape.str(got.shape()), got.numel(), Double.POSITIVE_INFINITY, Double.NaN, Double.NaN, floor, 0, tol,
                    "shape " + Shape.str(got.shape()) + " but the reference is " + Shape.str(ref.shape()));
            entries.add(e);
            return e;
        }
        return compare(name, Shape.str(ref.shape()), ref.toDoubleArray(), got.toDoubleArray(), tol, floor);
    }

    public Entry compare(String name, String shape, double[] ref, double[] got, double tol) {
        return compare(name, shape, ref, got, tol, 0);
    }

    public Entry compare(String name, String shape, double[] ref, double[] got, double tol, double floor) {
        Entry e;
        if (ref.length != got.length) {
            e = new Entry(name, shape, got.length, Double.POSITIVE_INFINITY, Double.NaN, Double.NaN, floor, 0, tol,
                    got.length + " elements but the reference has " + ref.length);
        } else {
            double num = 0, den = 0, maxAbs = 0;
            long bad = 0, firstBad = -1;
            for (int i = 0; i < ref.length; i++) {
                if (!Double.isFinite(ref[i]) || !Double.isFinite(got[i])) {
                    if (firstBad < 0) firstBad = i;
                    bad++;
                    continue;
                }
                double d = got[i] - ref[i];
                num += d * d;
                den += ref[i] * ref[i];
                maxAbs = Math.max(maxAbs, Math.abs(d));
            }
            double refNorm = Math.sqrt(den);
            String problem = null;
            double rel;
            if (bad > 0) {
                rel = Double.POSITIVE_INFINITY;
                problem = bad + " non-finite elements, the first at " + firstBad + " (ref " + ref[(int) firstBad] + ", got " + got[(int) firstBad]
                        + ")" + (Double.isNaN(got[(int) firstBad]) && Double.isFinite(ref[(int) firstBad]) ? ": unwritten output or NaN from a kernel?" : "");
            } else if (Math.max(refNorm, floor) == 0) {
                rel = num == 0 ? 0 : Double.POSITIVE_INFINITY;
                if (num != 0) problem = "the reference is all zeros, the result is not (||got|| = " + Math.sqrt(num) + ")";
            } else {
                rel = Math.sqrt(num) / Math.max(refNorm, floor);
            }
            e = new Entry(name, shape, ref.length, rel, maxAbs, refNorm, floor, bad, tol, problem);
        }
        entries.add(e);
        return e;
    }

    /** Records a comparison that could not be made (e.g. a gradient missing on one side) as a failure. */
    public Entry failed(String name, double tol, String problem) {
        Entry e = new Entry(name, "-", 0, Double.POSITIVE_INFINITY, Double.NaN, Double.NaN, 0, 0, tol, problem);
        entries.add(e);
        return e;
    }

    public boolean allOk() { return entries.stream().allMatch(Entry::ok); }

    /** The {@code n} largest relative errors relative to their tolerance, worst first. */
    public List<Entry> worst(int n) {
        List<Entry> s = new ArrayList<>(entries);
        s.sort(Comparator.comparingDouble((Entry e) -> e.problem() != null ? Double.POSITIVE_INFINITY : e.rel() / e.tol()).reversed());
        return s.subList(0, Math.min(n, s.size()));
    }

    /** Every failing entry, then the {@code n} worst overall; the whole text a GPU session needs to diagnose. */
    public String report(int n) {
        StringBuilder b = new StringBuilder(label).append(": ").append(entries.size()).append(" tensors compared, ")
                .append(entries.stream().filter(e -> !e.ok()).count()).append(" over tolerance\n");
        List<Entry> failing = entries.stream().filter(e -> !e.ok()).toList();
        if (!failing.isEmpty()) {
            b.append("-- failing, in order of computation --\n");
            failing.forEach(e -> b.append(e.line()).append('\n'));
        }
        b.append("-- worst ").append(Math.min(n, entries.size())).append(" (rel / tol) --\n");
        worst(n).forEach(e -> b.append(e.line()).append('\n'));
        return b.toString();
    }

    /** Prints the report to stdout (the worst few even when all pass: the margins are worth seeing) and fails if any is over. */
    public void assertAllWithin() {
        String r = report(12);
        System.out.println(r);
        if (!allOk()) fail(r);
    }
}
