package dev.puppetengine.cli;

import dev.puppetengine.train.Trainer;
import dev.puppetengine.train.TrainingConfig;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Option;

import java.util.Locale;

/** Options every training command shares (a picocli mixin) and the progress bar they drive. */
final class TrainingOptions {
    @Option(names = "--steps", description = "Optimiser steps.")
    Long steps;

    @Option(names = "--lr", description = "Learning rate.")
    Double lr;

    @Option(names = "--batch-size", description = "Clips per micro-step.")
    Integer batchSize;

    @Option(names = "--accumulation", description = "Micro-steps per optimiser step (gradients averaged).")
    Integer accumulation;

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

    @Option(names = "--ema", description = "EMA decay (0: no EMA).")
    Double ema;

    @Option(names = "--gradient-checkpointing", description = "Recompute each block's activations in backward: less memory, one more forward per step (about a third more compute).")
    boolean checkpointing;

    @Option(names = "--checkpoint-every", defaultValue = "100", description = "Checkpoint every N steps (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Option(names = "--keep", defaultValue = "3", description = "Checkpoints to keep (default: ${DEFAULT-VALUE}).")
    int keep;

    TrainingConfig config(long defSteps, double defLr, int defBatch, int defAccum, double defEma, String trainable, boolean applyCIn) {
        return new TrainingConfig(seed, batchSize != null ? batchSize : defBatch, accumulation != null ? accumulation : defAccum,
                steps != null ? steps : defSteps, lr != null ? lr : defLr, adamW, weightDecay, maxGradNorm, warmup, ema != null ? ema : defEma,
                checkpointing, trainable, applyCIn, checkpointEvery, keep);
    }

    /** Drives {@code bar} (ProgressBars) with each optimiser step's loss, gradient norm, learning rate and clips/s. */
    static Trainer.Listener listener(ProgressBar bar) {
        return p -> {
            bar.stepTo(p.step());
            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f  |g| %.3f  lr %.2e  %.2f clips/s", p.loss(), p.gradNorm(), p.lr(), p.clipsPerSecond()));
        };
    }
}
