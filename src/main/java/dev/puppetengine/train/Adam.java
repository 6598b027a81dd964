package dev.puppetengine.train;

import dev.puppetengine.backend.AdamParams;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam (torch.optim.Adam, the reference) or AdamW over the trainable parameters, with fp32 master weights
 * and moments: when a parameter is stored in bf16/fp16 the update runs on its fp32 master and writes the
 * rounded value back in the same pass. Gradients accumulated over micro-steps are averaged (and unscaled, under
 * fp16 loss scaling), their global L2 norm clipped, the learning rate optionally warmed up linearly, then one fused
 * step over all tensors. One step count serves every parameter's bias correction, and a parameter without a gradient is skipped (its moments kept)
 * while the count advances; torch counts per parameter. The two agree where every trainable parameter gets a gradient
 * each step, as in this trainer (drag dropout zeroes the drags, it does not cut the drag modules out of the graph).
 */
public final class Adam implements AutoCloseable {

    public record Settings(double lr, double beta1, double beta2, double eps, double weightDecay, boolean adamW,
                           double maxGradNorm, int warmupSteps) {}

    /** What one optimiser step did; {@code skipped}: nothing, its scaled gradients were not finite (see {@link #scaledStep}). */
    public record StepResult(long step, double gradNorm, double clipScale, double lr, boolean skipped) {}

    private final Settings s;
    private final Scope scope = Scope.detached();
    private final Map<String, Tensor> params;
    private final Map<String, Tensor> masters = new LinkedHashMap<>(), m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
    private long step;

    /** {@code params}: the model's trainable tensors by name (leaves that collect gradients). */
    public Adam(Map<String, Tensor> params, Settings settings) {
        this.s = settings;
        this.params = new LinkedHashMap<>(params);
        scope.fill(() -> params.forEach((name, p) -> {
            Backend be = p.backend();
            masters.put(name, p.dtype() == DType.F32 || p.dtype() == DType.F64 ? p : p.to(DType.F32));
            DType mt = p.dtype().full();
            m.put(name, Tensor.zeros(be, mt, p.shape()));
            v.put(name, Tensor.zeros(be, mt, p.shape()));
        }));
    }

    public long stepCount() { return step; }

    public Map<String, Tensor> firstMoments() { return m; }

    public Map<String, Tensor> secondMoments() { return v; }

    /** The model's trainable tensors. */
    public Map<String, Tensor> parameters() { return params; }

    /** Master weights (the parameter itself when it is fp32). */
    public Map<String, Tensor> masters() { return masters; }

    /** Restores the step counter (moments and masters are restored by writing into their tensors). */
    public void setStepCount(long n) { this.step = n; }

    /** The learning rate at step n (1-based) with linear warm-up. */
    public double lrAt(long n) {
        return s.warmupSteps() > 0 ? s.lr() * Math.min(1.0, (double) n / s.warmupSteps()) : s.lr();
    }

    /**
     * Global L2 norm of all gradients times {@code scale}. The per-tensor sums of squares accumulate on the gradients'
     * backend (F32, F64 for F64 gradients) and are read once: one host round trip per optimiser step, not one per
     * parameter tensor (about a thousand for the full UNet, each waiting for the device).
     */
    public double gradNorm(double scale) {
        Tensor acc = null;
        try {
            for (Tensor p : params.values()) {
                Tensor g = p.grad();
                if (g == null) continue;
                Backend be = g.backend();
                if (acc == null) acc = Tensor.zeros(be, g.dtype().full(), 1);
                try (Tensor sq = be.unary(UnaryOp.SQUARE, g); Tensor tot = be.sumTo(sq, ones(g.dim())); Tensor t1 = tot.reshape(1)) {
                    be.axpby(1, t1, 1, acc);
                }
            }
            return acc == null ? 0 : Math.sqrt(acc.item()) * scale;
        } finally {
            if (acc != null) acc.close();
        }
    }

    private static int[] ones(int n) {
        int[] o = new int[n];
        Arrays.fill(o, 1);
        return o;
    }

    /**
     * Applies the gradients accumulated over {@code microSteps} micro-steps (averaged), then clears them.
     * Parameters without a gradient are left unchanged (and their moments untouched). Gradients that are not finite
     * throw {@link NonFiniteException}, changing nothing.
     */
    public StepResult step(int microSteps) { return step(microSteps, 1, false); }

    /**
     * As {@link #step} for the gradients of losses multiplied by {@code lossScale} before backward (fp16 loss scaling,
     * {@link LossScaler}): the scale is divided out with the averaging. Gradients that are not finite here mean the scale
     * overflowed them, not that training diverged: the step is skipped (weights, moments and step count unchanged), the
     * gradients are cleared and the result says {@code skipped}.
     */
    public StepResult scaledStep(int microSteps, double lossScale) { return step(microSteps, lossScale, true); }

    private StepResult step(int microSteps, double lossScale, boolean skipNonFinite) {
        double avg = 1.0 / (microSteps * lossScale);   // a lossScale of 1 leaves the unscaled step's arithmetic as it was
        double norm = gradNorm(avg);
        if (!Double.isFinite(norm)) {
            if (!skipNonFinite) throw new NonFiniteException("gradient norm is " + norm);   // the trainer says which step
            zeroGrad();
            return new StepResult(step, norm, 1.0, lrAt(step + 1), true);
        }
        double clip = s.maxGradNorm() > 0 && norm > s.maxGradNorm() ? s.maxGradNorm() / (norm + 1e-6) : 1.0;
        step++;
        double lr = lrAt(step);
        List<Tensor> ps = new ArrayList<>(), gs = new ArrayList<>(), ms = new ArrayList<>(), vs = new ArrayList<>(), low = new ArrayList<>();
        params.forEach((name, p) -> {
            if (p.grad() == null) return;
            ps.add(masters.get(name));
            gs.add(p.grad());
            ms.add(m.get(name));
            vs.add(v.get(name));
            low.add(p);
        });
        if (!ps.isEmpty()) {
            Backend be = ps.get(0).backend();
            boolean needLow = low.stream().anyMatch(t -> t.dtype() != DType.F32 && t.dtype() != DType.F64);
            be.adamStep(ps, gs, ms, vs, new AdamParams(lr, s.beta1(), s.beta2(), s.eps(), s.weightDecay(), s.adamW(), step, avg * clip),
                    needLow ? low : null);
        }
        zeroGrad();
        return new StepResult(step, norm, clip, lr, false);
    }

    public void zeroGrad() {
        for (Tensor p : params.values()) {
            if (p.grad() != null) {
                p.grad().close();
                p.setGrad(null);
            }
        }
    }

    @Override
    public void close() {
        zeroGrad();
        scope.close();
    }

    /** Raised when the loss or the gradients stop being finite. */
    public static final class NonFiniteException extends RuntimeException {
        public NonFiniteException(String message) { super(message); }
    }
}
