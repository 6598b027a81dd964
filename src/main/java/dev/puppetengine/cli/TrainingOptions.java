package dev.puppetengine.cli;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.TrainingConfig;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;

/**
 * Options every training command shares (a picocli mixin) and the progress bar they drive. Each command gives its own
 * defaults for --steps, --lr, --batch-size, --accumulation, --ema and --export-dtype through its {@link Defaults} (so --help shows them).
 */
final class TrainingOptions {
    @Option(names = "--steps", description = "Optimiser steps (default: ${DEFAULT-VALUE}).")
    long steps;

    @Option(names = "--lr", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--batch-size", description = "Clips per micro-step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--accumulation", description = "Micro-steps per optimiser step, gradients averaged (default: ${DEFAULT-VALUE}).")
    int accumulation;

    @Option(names = "--seed", defaultValue = "1024", description = "Seed of every random draw: the data order and the objective's (train: noise levels, noise, dropout, posterior samples, drags chosen per batch) (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--adamw", description = "AdamW (decoupled weight decay) instead of Adam.")
    boolean adamW;

    @Option(names = "--weight-decay", defaultValue = "0", description = "Weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Clip the global gradient norm (0: off; default: ${DEFAULT-VALUE}).")
    double maxGradNorm;

    @Option(names = "--warmup", defaultValue = "0", description = "Linear learning-rate warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--ema", description = "EMA decay, in [0, 1); 0 for none (default: ${DEFAULT-VALUE}).")
    double ema;

    @Option(names = "--gradient-checkpointing", description = "Recompute each block's activations in backward: less memory, one more forward per step (about a third more compute).")
    boolean checkpointing;

    @Option(names = "--checkpoint-every", defaultValue = "100", description = "Checkpoint every N steps (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Option(names = "--keep", defaultValue = "3", description = "Checkpoints to keep (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--export-dtype", description = "dtype of OUT/model: bf16, fp16, fp32 or fp64 (default: ${DEFAULT-VALUE}).")
    String exportDtype;

    /** --export-dtype, refused up front (before a model loads) when it names no dtype. */
    DType exportDtype() { return DeviceArgs.dtypeOption("--export-dtype", exportDtype); }

    /** --batch-size against the training split of {@code data}, before a model loads (the Trainer would refuse it only after). */
    void checkBatchSize(int trainCount, Path data) {
        if (batchSize > trainCount)   // each batch would hold some clips twice
            throw new UserError("--batch-size " + batchSize + " is larger than the " + trainCount + " training clips of " + data);
    }

    /** Each TrainingConfig field's option, to name it when it is out of range (its own message names the config.json field). */
    private static final Map<String, String> OPTIONS = Map.ofEntries(Map.entry("batch_size", "--batch-size"), Map.entry("accumulation", "--accumulation"),
            Map.entry("steps", "--steps"), Map.entry("warmup_steps", "--warmup"), Map.entry("checkpoint_every", "--checkpoint-every"),
            Map.entry("keep_checkpoints", "--keep"), Map.entry("lr", "--lr"), Map.entry("weight_decay", "--weight-decay"),
            Map.entry("max_grad_norm", "--max-grad-norm"), Map.entry("ema_decay", "--ema"), Map.entry("trainable", "--trainable"));

    /** The config; an option out of range is refused naming it. */
    TrainingConfig config(String trainable, boolean applyCIn) {
        try {
            return new TrainingConfig(seed, batchSize, accumulation, steps, lr, adamW, weightDecay, maxGradNorm, warmup, ema, checkpointing, trainable,
                    applyCIn, checkpointEvery, keep);
        } catch (TrainingConfig.InvalidSetting e) {
            throw new UserError(OPTIONS.getOrDefault(e.field(), e.field()) + " " + e.requirement());
        }
    }

    /** A UNet's --trainable (train, bench train), refused naming the option before a model loads. */
    static void checkUNetTrainable(String trainable) {
        if (!TrainingConfig.UNET_TRAINABLE.contains(trainable))
            throw new UserError("--trainable must be all or drag-attention, got '" + trainable + "'");
    }

    /** A command's defaults for --steps, --lr, --batch-size, --accumulation, --ema and --export-dtype (its @Command's defaultValueProvider). */
    abstract static class Defaults implements CommandLine.IDefaultValueProvider {
        private final Map<String, String> values;

        Defaults(String steps, String lr, String batchSize, String accumulation, String ema, String exportDtype) {
            values = Map.of("--steps", steps, "--lr", lr, "--batch-size", batchSize, "--accumulation", accumulation, "--ema", ema,
                    "--export-dtype", exportDtype);
        }

        @Override
        public String defaultValue(CommandLine.Model.ArgSpec arg) {
            return arg instanceof CommandLine.Model.OptionSpec o ? values.get(o.longestName()) : null;
        }
    }

    /** train: toy-size runs (the reference's recipe for the full model is in its --help); the model exported in bf16, as it samples. */
    static final class ForTrain extends Defaults {
        ForTrain() { super("2000", "1e-4", "1", "1", "0", "bf16"); }
    }

    /** train-vae and fit-image-encoder train in fp32 and export it unless told otherwise. */
    static final class ForTrainVae extends Defaults {
        ForTrainVae() { super("1500", "5e-4", "2", "1", "0", "fp32"); }
    }

    static final class ForFitImageEncoder extends Defaults {
        ForFitImageEncoder() { super("800", "1e-3", "8", "1", "0", "fp32"); }
    }
}
