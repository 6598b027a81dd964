package dev.puppetengine.train;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything that determines a training run (saved as config.json in the run directory; a resumed run must
 * use the same values). The commands' defaults suit toy-size runs; the reference's (spec 4.1: lr 1e-5,
 * accumulation 64, EMA 0.9999) are given explicitly (README, "Fine-tuning").
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record TrainingConfig(
        @JsonProperty("seed") long seed,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("accumulation") int accumulation,
        @JsonProperty("steps") long steps,
        @JsonProperty("lr") double lr,
        @JsonProperty("adamw") boolean adamW,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("max_grad_norm") double maxGradNorm,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("ema_decay") double emaDecay,
        @JsonProperty("gradient_checkpointing") boolean gradientCheckpointing,
        @JsonProperty("trainable") String trainable,
        @JsonProperty("apply_c_in") boolean applyCIn,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("keep_checkpoints") int keepCheckpoints) {

    /** What {@code trainable} may select in a UNet, and in a VAE ({@link #isTrainable}). */
    public static final List<String> UNET_TRAINABLE = List.of("all", "drag-attention"), VAE_TRAINABLE = List.of("all", "decoder");

    /** A setting out of its range, named by its config.json field (the commands name their option instead). */
    public static final class InvalidSetting extends IllegalArgumentException {
        private final String field, requirement;

        InvalidSetting(String field, String requirement) {
            super(field + " " + requirement);
            this.field = field;
            this.requirement = requirement;
        }

        public String field() { return field; }

        /** What was wrong, without the field: "must be >= 1, got 0". */
        public String requirement() { return requirement; }
    }

    public TrainingConfig {
        atLeast("batch_size", batchSize, 1);
        atLeast("accumulation", accumulation, 1);
        atLeast("steps", steps, 1);
        atLeast("warmup_steps", warmupSteps, 0);
        atLeast("checkpoint_every", checkpointEvery, 1);
        atLeast("keep_checkpoints", keepCheckpoints, 1);
        // written as !(ok) so NaN fails too (NaN or infinite settings train a model of NaN weights)
        if (!(lr > 0 && lr < Double.POSITIVE_INFINITY)) throw new InvalidSetting("lr", "must be a finite number > 0, got " + lr);
        if (!(weightDecay >= 0 && weightDecay < Double.POSITIVE_INFINITY)) throw new InvalidSetting("weight_decay", "must be a finite number >= 0, got " + weightDecay);
        if (!(maxGradNorm >= 0 && maxGradNorm < Double.POSITIVE_INFINITY))
            throw new InvalidSetting("max_grad_norm", "must be a finite number >= 0 (0: no clipping), got " + maxGradNorm);
        if (!(emaDecay >= 0 && emaDecay < 1)) throw new InvalidSetting("ema_decay", "must be in [0, 1) (0: no EMA), got " + emaDecay);
        if (!UNET_TRAINABLE.contains(trainable) && !VAE_TRAINABLE.contains(trainable))
            throw new InvalidSetting("trainable", "must be 'all' or 'drag-attention' (a UNet), or 'all' or 'decoder' (a VAE), got '" + trainable + "'");
    }

    private static void atLeast(String field, long value, long min) {
        if (value < min) throw new InvalidSetting(field, "must be >= " + min + ", got " + value);
    }

    public Adam.Settings adam() {
        return new Adam.Settings(lr, 0.9, 0.999, 1e-8, weightDecay, adamW, maxGradNorm, warmupSteps);
    }

    /**
     * The parameters of {@code store} that train, now marked as needing gradients; refuses a selection that matches
     * none of them (the VAE's "decoder" given for a UNet), before anything is written.
     */
    public Map<String, Tensor> selectTrainable(ParameterStore store) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        store.parameters().forEach((k, p) -> { if (isTrainable(k)) out.put(k, p.value()); });
        if (out.isEmpty())
            throw new IllegalArgumentException("trainable '" + trainable + "' selects none of the " + store.parameters().size()
                    + " parameters being trained (" + store.parameters().keySet().iterator().next() + ", ...)");
        store.requireGrad(this::isTrainable);
        return out;
    }

    /** Which parameters train: all; only the UNet's drag modules and attention layers; or only a VAE's decoder. */
    public boolean isTrainable(String name) {
        switch (trainable) {
            case "all": return true;
            case "decoder": return name.startsWith("decoder.");
            default: return name.contains(".flow_convs.") || name.contains(".drag_token_mlps.") || name.contains(".attn1.") || name.contains(".attn2.");
        }
    }
}
