package dev.puppetengine.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

/**
 * Dynamic loss scaling for fp16 training, with the semantics of torch.cuda.amp.GradScaler (what the reference's accelerate
 * mixed_precision fp16 uses, spec 4.1). Many activation gradients are smaller than fp16's smallest number (6e-8) and
 * would flush to zero, so the loss is multiplied by the scale before backward and the gradients are divided by it
 * before the optimiser uses them. Powers of two only, so scaling and unscaling are exact wherever nothing overflows.
 * Gradients that do overflow (inf/NaN) mean the scale is too large: that optimiser step is skipped and the scale halved;
 * after {@code growthInterval} good steps in a row it is doubled, to use as much of fp16's range as the gradients allow.
 */
public final class LossScaler {
    static final double INITIAL_SCALE = 65536, GROWTH = 2, BACKOFF = 0.5;
    static final int GROWTH_INTERVAL = 2000;

    /** What a checkpoint keeps (state.json's loss_scale): the scale and the good steps since it last changed. */
    public record State(@JsonProperty("scale") double scale, @JsonProperty("good_steps") long goodSteps) {}

    private final int growthInterval;   // 0: no scaling
    private double scale;
    private long goodSteps;

    /** torch's defaults: scale 2^16, x2 after 2000 good steps, x0.5 on a skipped one. */
    public LossScaler() { this(GROWTH_INTERVAL); }

    /** A shorter interval lets tests see the scale grow. */
    LossScaler(int growthInterval) {
        this(growthInterval, INITIAL_SCALE);
        if (growthInterval < 1) throw new IllegalArgumentException("growth interval must be >= 1, got " + growthInterval);
    }

    private LossScaler(int growthInterval, double scale) {
        this.growthInterval = growthInterval;
        this.scale = scale;
    }

    /**
     * No scaling (fp32, bf16: bf16's range is fp32's): the loss as it is, Adam's plain step, whose non-finite gradients
     * stop the run; nothing checkpointed. So callers take one path whatever the dtype.
     */
    public static LossScaler none() { return new LossScaler(0, 1); }

    /** The scaler training weights of {@code dtype} needs: dynamic for fp16, whose small gradients flush to zero unscaled. */
    public static LossScaler forWeights(DType dtype) {
        return dtype == DType.F16 ? new LossScaler() : none();
    }

    /** Whether this scales (fp16) at all. */
    public boolean dynamic() { return growthInterval > 0; }

    /** The current scale; 1 without scaling. */
    public double scale() { return scale; }

    /** The loss to backpropagate: {@code loss} times the scale. */
    public Tensor scaled(Tensor loss) { return dynamic() ? F.scale(loss, scale) : loss; }

    /**
     * The optimiser step on the gradients of {@link #scaled} losses over {@code microSteps} micro-steps (unscaled as Adam
     * averages them), then the scale's update: skipped (gradients not finite) halves it, the growth interval's good step
     * doubles it.
     */
    public Adam.StepResult step(Adam adam, int microSteps) {
        if (!dynamic()) return adam.step(microSteps);
        Adam.StepResult r = adam.scaledStep(microSteps, scale);
        if (r.skipped()) {
            // gradients not finite at every scale fp16 could use, and past it: not overflow but divergence (torch would
            // go on halving to 0, a scale no checkpoint can resume)
            if (scale * BACKOFF < Double.MIN_NORMAL)
                throw new Adam.NonFiniteException("gradient norm is " + r.gradNorm() + " at every loss scale down to " + scale);
            scale *= BACKOFF;
            goodSteps = 0;
        } else if (++goodSteps >= growthInterval) {   // >=: a checkpoint may come from a longer interval
            scale *= GROWTH;
            goodSteps = 0;
        }
        return r;
    }

    /** What a checkpoint keeps; null without scaling (state.json as before scaling existed). */
    public State state() { return dynamic() ? new State(scale, goodSteps) : null; }

    /**
     * Continues from a checkpoint's state (checked as it was read). Without scaling it is ignored, as a checkpoint without
     * one (a bf16 run resumed in fp16) leaves a dynamic scaler at its initial scale.
     */
    void restore(State s) {
        if (!dynamic() || s == null) return;
        scale = s.scale();
        goodSteps = s.goodSteps();
    }
}
