package dev.puppetengine.model;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.DeviceUnderTest;
import dev.puppetengine.testing.Parity;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole tiny Puppet-Master UNet, forward and backward, on the device against the CPU: the output, the gradient of
 * every parameter and of the three differentiable inputs (noisy sample, image latents, CLIP context), with drags
 * present (drag embedders, FiLM, drag tokens sampling the features, not detached so grid-sample backward runs),
 * all-to-first attention, condition dropout drawn as in training, gradient checkpointing off and on, in F32 and BF16.
 * Same weights and inputs on every side (rounded to the dtype once, on the host). Skips (JUnit assumption) where CUDA
 * is unusable; {@code -Dpuppet.harness.cpuSelfTest=true} runs it with the CPU standing in for the device.
 *
 * <p>Reference and tolerance. Each tensor is compared with the CPU's float64 run of the same (rounded) problem:
 * relative error ||device - f64|| / max(||f64||, floor) (see {@link Parity}; the floor, 5% of the median gradient
 * norm, keeps gradients that cancel to zero from being judged on the relative size of rounding noise). F32 bound per
 * tensor: max(base, 2 x the CPU's own F32 error for that tensor): the device must be as accurate as the CPU reference
 * implementation at that precision, within a factor 2. Why not a fixed 1e-5: measured on the CPU
 * ({@code ParityToleranceTest}, seed as here), this random tiny network amplifies rounding ~100-300x in backward,
 * so CPU F32 against F64 already reaches ~1e-4 on some weight gradients (it sums in other orders than the device, so
 * the device lands at the same level, not below). Base 2e-4 (about twice the CPU's worst here: 1.01e-4 once the GEMM
 * epilogues fused the residual adds, which changed where F32 rounds). A wrong index, a missing term or an unwritten
 * element gives errors of 1e-2..1 in F32, far above.
 *
 * <p>BF16 (unit roundoff 2e-3) gives output errors ~1.4% but gradient errors from ~1% to several hundred percent on the
 * most cancelling ones, and there the network is chaotic: a correct device that rounds 3 elements of the whole run one
 * bf16 step otherwise than the CPU moves some gradients by as much as bf16 itself, so 2 x the CPU's own error fails it
 * on tensors where the CPU happened to land close. The bound therefore also takes how far such differences alone move
 * each tensor: {@value #NUDGED_RUNS} more CPU BF16 runs with a random half of the weights and inputs one bf16 step off
 * (with 10-20% nudged, a stand-in device off by one step in 0.03-10% of every op's outputs failed about twice as
 * often), spread = the largest relative distance of one from the plain CPU BF16 run; bound max(base 3e-2, 2 x CPU
 * error, CPU error + 3 x spread) (|device - f64| <= |cpu - f64| + |device - cpu|). A bound of 1 or more would pass a
 * zero tensor: such tensors (about half, the gradients bf16 leaves with no correct digit) are listed as unverified and
 * only checked present and finite. BF16 is the weak part: a bf16-only bug smaller than bf16's own error, or in an
 * unverified tensor, passes; the F32 run of the same kernels covers those.
 *
 * <p>On failure every tensor over its bound is listed, with the twelve worst overall, so one GPU run diagnoses.
 */
@Tag("gpu")
class UNetGpuParityTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final double TOL_F32 = 2e-4, TOL_BF16 = 3e-2, CPU_FACTOR = 2, SPREAD_FACTOR = 3, NUDGED_FRACTION = 0.5;
    static final int NUDGED_RUNS = 3;
    static final int BATCH = 2, LATENT = 8;
    static final long SEED = 20240611L;

    private Backend device;

    @BeforeEach
    void requireDevice() {
        device = DeviceUnderTest.require();
    }

    /** The tiny config of the UNet tests: channels 8/16, 3 frames (odd), context 16, all-to-first attention, 5 drags. */
    static UNetConfig config() {
        return UNetConfig.tiny(8, 3, 16);
    }

    static double tolerance(DType t) {
        return t == DType.F32 ? TOL_F32 : TOL_BF16;
    }

    /** Options: drag features not detached (so the drag-token grid-sample backward runs), dropout drawn as in training. */
    static UNetOptions options(boolean checkpointing) {
        return new UNetOptions(true, SEED, 3, checkpointing, false);
    }

    /** Host values of every parameter and input, made once from a fixed seed; both backends load these. */
    record Problem(Map<String, double[]> weights, Map<String, double[]> inputs, Map<String, int[]> inputShapes) {}

    static Problem problem(UNetConfig cfg, long seed) {
        Random rng = new Random(seed);
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Map<String, double[]> w = new LinkedHashMap<>();
        try (ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, seed)) {
            // zero-initialised outputs (drag conv_out) and constant norms / mix factors would hide terms: perturb all
            for (Map.Entry<String, Parameter> e : ps.parameters().entrySet()) {
                double[] v = e.getValue().value().toDoubleArray();
                for (int i = 0; i < v.length; i++) v[i] += 0.05 * rng.nextGaussian();
                w.put(e.getKey(), v);
            }
        }
        int f = cfg.numFrames(), ctx = cfg.crossAttentionDim();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("sample", new int[]{BATCH, f, LATENT, LATENT, 4});
        shapes.put("timestep", new int[]{BATCH});
        shapes.put("image_latents", new int[]{BATCH, LATENT, LATENT, 4});
        shapes.put("context", new int[]{BATCH, 1, ctx});
        shapes.put("drags", new int[]{BATCH, f, cfg.numDrags(), 4});
        shapes.put("projection", new int[]{BATCH, f, LATENT, LATENT, 4});
        Map<String, double[]> in = new LinkedHashMap<>();
        shapes.forEach((k, s) -> {
            double[] v = new double[Shape.numelInt(s)];
            if (k.equals("drags")) {
                Arrays.fill(v, -1);  // other slots: off-image points, "present" by spec 3.3 (only all-zero is absent); fine for device vs CPU
                for (int b = 0; b < BATCH; b++)
                    for (int d = 0; d < 3; d++) {                        // three present drags per video, straight lines
                        double sx = rng.nextDouble(), sy = rng.nextDouble(), ex = rng.nextDouble(), ey = rng.nextDouble();
                        for (int fr = 0; fr < f; fr++) {
                            int o = ((b * f + fr) * cfg.numDrags() + d) * 4;
                            double a = (double) fr / (f - 1);
                            v[o] = sx; v[o + 1] = sy; v[o + 2] = sx + (ex - sx) * a; v[o + 3] = sy + (ey - sy) * a;
                        }
                    }
            } else {
                for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
            }
            in.put(k, v);
        });
        return new Problem(w, in, shapes);
    }

    /** What one forward + backward produced, on the host, in order of computation: output, input grads, parameter grads. */
    record Outcome(Map<String, double[]> values, Map<String, String> shapes) {}

    /**
     * Loads the problem on {@code b} in {@code t}, runs forward, loss = sum(output * projection), backward; returns the
     * output and every gradient. A fresh module tree per call (a module's parameters hold one backend's tensors).
     */
    static Outcome run(UNetConfig cfg, Problem pr, Backend b, DType t, UNetOptions opt) {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Map<String, double[]> out = new LinkedHashMap<>();
        Map<String, String> shapes = new LinkedHashMap<>();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.allocate(unet, b, t)) {
            ps.parameters().forEach((k, p) -> p.value().copyFrom(pr.weights().get(k)));
            ps.requireGrad(k -> true);
            Map<String, Tensor> in = new LinkedHashMap<>();
            pr.inputs().forEach((k, v) -> in.put(k, Tensor.of(b, k.equals("drags") ? DType.F32 : t, pr.inputShapes().get(k), v)));
            for (String k : new String[]{"sample", "image_latents", "context"}) Autograd.requireGrad(in.get(k));
            Tensor y = unet.forward(new UNetInputs(in.get("sample"), in.get("timestep"), in.get("image_latents"), in.get("context"),
                    in.get("drags"), null), opt);
            put(out, shapes, "output", y);
            Autograd.backward(F.sum(F.mul(y, in.get("projection"))));
            for (String k : new String[]{"sample", "image_latents", "context"}) put(out, shapes, "grad input " + k, in.get(k).grad());
            ps.parameters().forEach((k, p) -> put(out, shapes, "grad " + k, p.value().grad()));
            b.synchronize();
        }
        return new Outcome(out, shapes);
    }

    private static void put(Map<String, double[]> out, Map<String, String> shapes, String name, Tensor t) {
        if (t == null) {                      // no gradient reached it: recorded as empty, which the comparison flags
            out.put(name, new double[0]);
            shapes.put(name, "none");
            return;
        }
        out.put(name, t.toDoubleArray());
        shapes.put(name, Shape.str(t.shape()));
    }

    /** The problem with every weight and input rounded to {@code t} (drags stay F32), so an F64 run computes exactly what a {@code t} run approximates. */
    static Problem rounded(Problem pr, DType t) {
        Map<String, double[]> w = new LinkedHashMap<>(), in = new LinkedHashMap<>();
        pr.weights().forEach((k, v) -> w.put(k, round(v, t)));
        pr.inputs().forEach((k, v) -> in.put(k, k.equals("drags") ? v : round(v, t)));
        return new Problem(w, in, pr.inputShapes());
    }

    private static double[] round(double[] v, DType t) {
        return Tensor.of(CPU, t, new int[]{v.length}, v).toDoubleArray();
    }

    /**
     * The problem rounded to BF16 with a random {@link #NUDGED_FRACTION} of its values (weights and inputs but the F32
     * drags) one bf16 step up or down: what rounding differences alone do to a run, entering at every layer's weights.
     */
    static Problem nudged(Problem pr, long seed) {
        Random rng = new Random(seed);
        Problem r = rounded(pr, DType.BF16);
        Map<String, double[]> w = new LinkedHashMap<>(), in = new LinkedHashMap<>();
        r.weights().forEach((k, v) -> w.put(k, nudge(v, rng)));
        r.inputs().forEach((k, v) -> in.put(k, k.equals("drags") ? v : nudge(v, rng)));
        return new Problem(w, in, r.inputShapes());
    }

    private static double[] nudge(double[] v, Random rng) {
        double[] out = v.clone();
        for (int i = 0; i < out.length; i++)   // a step of bf16's 7 stored mantissa bits at the value's exponent
            if (out[i] != 0 && rng.nextDouble() < NUDGED_FRACTION) out[i] += (rng.nextBoolean() ? 1 : -1) * Math.scalb(1.0, Math.getExponent(out[i]) - 7);
        return out;
    }

    /**
     * Per tensor, how far one-step rounding differences alone move it: the largest relative distance (floored as
     * {@link #floor}) of {@link #NUDGED_RUNS} CPU BF16 runs of {@link #nudged} problems from the plain CPU BF16 run.
     */
    static Map<String, Double> spread(UNetConfig cfg, Problem pr, UNetOptions opt, Outcome cpu, double floor) {
        Map<String, Double> spread = new LinkedHashMap<>();
        for (int i = 0; i < NUDGED_RUNS; i++) {
            Parity d = new Parity("nudged");
            compareAll(d, cpu, run(cfg, nudged(pr, SEED + 1 + i), CPU, DType.BF16, opt), Double.POSITIVE_INFINITY, floor);
            d.entries().forEach(e -> spread.merge(e.name(), e.rel(), Math::max));
        }
        return spread;
    }

    /** The float64 CPU reference for a run in {@code t}: the same function of the same ({@code t}-rounded) values, computed exactly enough. */
    static Outcome reference(UNetConfig cfg, Problem pr, DType t, UNetOptions opt) {
        return run(cfg, rounded(pr, t), CPU, DType.F64, opt);
    }

    /**
     * The absolute floor of the relative error (see {@link Parity}): FLOOR_FRACTION of the median reference norm of the
     * gradients. Gradients that are zero by cancellation (a conv bias followed by a per-channel group norm: ~1e-15 in
     * F64) or nearly so (a mix factor's scalar gradient, a sum of terms 100x larger than itself) are judged on this
     * absolute scale; every other tensor has its own norm above it and is judged relatively.
     */
    static final double FLOOR_FRACTION = 0.05;

    static double floor(Outcome ref) {
        double[] norms = ref.values().entrySet().stream().filter(e -> e.getKey().startsWith("grad "))
                .mapToDouble(e -> Math.sqrt(Arrays.stream(e.getValue()).map(x -> x * x).sum())).sorted().toArray();
        return norms.length == 0 ? 0 : FLOOR_FRACTION * norms[norms.length / 2];
    }

    /** Compares every tensor of {@code got} with {@code ref} into {@code p}, one tolerance for all; floor as {@link #floor}. */
    static void compareAll(Parity p, Outcome ref, Outcome got, double tol, double floor) {
        assertEquals(ref.values().keySet(), got.values().keySet(), "the two runs produced different tensor sets");
        ref.values().forEach((k, r) -> {
            double[] g = got.values().get(k);
            if (r.length == 0 || g.length == 0) p.failed(k, tol, "no gradient on the " + (r.length == 0 ? "reference" : "device") + " side");
            else p.compare(k, ref.shapes().get(k), r, g, tol, floor);
        });
    }

    /** {@link #judge(String, Outcome, Outcome, Map, Outcome, double)} without a spread. */
    static Parity judge(String label, Outcome ref, Outcome cpuSameDtype, Outcome dev, double base) {
        return judge(label, ref, cpuSameDtype, Map.of(), dev, base);
    }

    /**
     * The verdict: every tensor of {@code dev} against the F64 reference, held to max(base, CPU_FACTOR x c,
     * c + SPREAD_FACTOR x spread), c the CPU's own error in the same dtype for that tensor, spread as {@link #spread}
     * (none: 0). That is: the device must be as accurate as the CPU reference implementation at the same precision,
     * within a factor 2 or the reach of rounding differences, and never needs to beat {@code base}. A bound of 1 or
     * more becomes infinite: the tensor is unverified, checked only present and finite (see {@link #unverified}).
     */
    static Parity judge(String label, Outcome ref, Outcome cpuSameDtype, Map<String, Double> spread, Outcome dev, double base) {
        double floor = floor(ref);
        Parity cpuErr = new Parity("cpu error");
        compareAll(cpuErr, ref, cpuSameDtype, Double.POSITIVE_INFINITY, floor);
        Map<String, Double> tol = new LinkedHashMap<>();
        cpuErr.entries().forEach(e -> {
            double t = Math.max(base, Math.max(CPU_FACTOR * e.rel(), e.rel() + SPREAD_FACTOR * spread.getOrDefault(e.name(), 0.0)));
            tol.put(e.name(), t < 1 ? t : Double.POSITIVE_INFINITY);
        });
        Parity p = new Parity(label + String.format(Locale.ROOT, " (floor %.3g)", floor));
        assertEquals(ref.values().keySet(), dev.values().keySet(), "the two runs produced different tensor sets");
        ref.values().forEach((k, r) -> {
            double[] g = dev.values().get(k);
            if (r.length == 0 || g.length == 0) p.failed(k, tol.get(k), "no gradient on the " + (r.length == 0 ? "reference" : "device") + " side");
            else p.compare(k, ref.shapes().get(k), r, g, tol.get(k), floor);
        });
        return p;
    }

    /** The tensors {@link #judge} could not bound below 1 (a zero result would pass such a bound). */
    static List<Parity.Entry> unverified(Parity verdict) {
        return verdict.entries().stream().filter(e -> e.tol() == Double.POSITIVE_INFINITY).toList();
    }

    @ParameterizedTest(name = "{0}, checkpointing {1}")
    @CsvSource({"F32, false", "F32, true", "BF16, false", "BF16, true"})
    void forwardAndBackwardMatchTheCpu(DType t, boolean checkpointing) {
        UNetConfig cfg = config();
        assertTrue(cfg.allToFirstAttention() && cfg.hasDrags(), "the parity config must exercise drags and all-to-first attention");
        Problem pr = problem(cfg, SEED);
        long t0 = System.nanoTime();
        Outcome ref = reference(cfg, pr, t, options(checkpointing));
        Outcome cpu = run(cfg, pr, CPU, t, options(checkpointing));
        Map<String, Double> spread = t == DType.BF16 ? spread(cfg, pr, options(checkpointing), cpu, floor(ref)) : Map.of();
        long t1 = System.nanoTime();
        Outcome dev = run(cfg, pr, device, t, options(checkpointing));
        long t2 = System.nanoTime();
        System.out.printf("UNet parity %s checkpointing %s on %s: cpu (f64 + %s%s) %.1f s, device %.1f s, %d tensors%n", t, checkpointing,
                DeviceUnderTest.describe(), t, spread.isEmpty() ? "" : " + " + NUDGED_RUNS + " nudged", (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                ref.values().size());
        Parity p = judge("UNet forward+backward " + t + ", checkpointing " + checkpointing + ", seed " + SEED + ", device "
                + DeviceUnderTest.describe() + ": device vs CPU F64, tol max(" + tolerance(t) + ", " + CPU_FACTOR + " x CPU " + t + " error"
                + (spread.isEmpty() ? "" : ", CPU error + " + SPREAD_FACTOR + " x nudged spread") + ")", ref, cpu, spread, dev, tolerance(t));
        assertEquals(3 + 1 + pr.weights().size(), p.entries().size(), "output, 3 input grads and every parameter grad");
        List<Parity.Entry> unverified = unverified(p);
        System.out.println(unverified.size() + " of " + p.entries().size() + " tensors unverified (bound >= 1: " + t
                + " rounding alone moves them about as far as a zero result; checked only present and finite):");
        unverified.forEach(e -> System.out.printf(Locale.ROOT, "  unverified  %-70s rel %.3g%n", e.name(), e.rel()));
        Parity direct = new Parity("for information: device vs CPU, both " + t);
        compareAll(direct, cpu, dev, Double.POSITIVE_INFINITY, floor(ref));
        System.out.println(direct.report(5));
        p.assertAllWithin();
    }

    /**
     * The kernels use no atomics: the same forward + backward twice on the device gives the same bits. (Checkpointing
     * on vs off is not bitwise equal even on the CPU: gradients reach shared tensors in another order; the parity test
     * above holds both to the reference.)
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32", "BF16"})
    void deviceIsDeterministic(DType t) {
        UNetConfig cfg = config();
        Problem pr = problem(cfg, SEED + 1);
        Outcome a = run(cfg, pr, device, t, options(true)), b = run(cfg, pr, device, t, options(true));
        Parity same = new Parity("device run twice, " + t + ", checkpointing on (must be bit-identical)");
        compareAll(same, a, b, 0, 0);
        same.assertAllWithin();
    }
}
