package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.bench.Median;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.Adam;
import dev.puppetengine.train.EdmLoss;
import dev.puppetengine.train.EdmObjective;
import dev.puppetengine.train.LossScaler;
import dev.puppetengine.train.TrainingConfig;
import dev.puppetengine.train.TrainingData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * ./puppet-engine bench train: times full training steps of the UNet (EDM loss forward, backward, Adam) on a
 * fixed random batch of the spec's shapes, with peak backend memory and, for TFLOP/s and MFU, the model FLOPs per step:
 * the forward's and the backward's gradient products as {@link FlopCount} counts them running (a checkpointed forward's
 * recompute is reported apart, not as model FLOPs).
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark UNet training steps (batch 1 like the reference): ms/step, TFLOP/s, MFU, peak memory; JSON with --json.",
                "Uses --model, or a --preset built in memory with random weights (puppet-master: the 1.68B model, GPU-sized).",
                "TFLOP/s and MFU use model FLOPs: the forward's and the backward's matrix products as they run (2 per multiply-add; "
                        + "fewer gradient products with fewer trainable weights), without a checkpointed forward's recompute (reported apart)."})
final class BenchTrainCommand implements Callable<Integer> {
    @Option(names = "--frames", defaultValue = "14", description = "Frames per clip, 1 to " + SamplingOptions.MAX_FRAMES + " (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--steps", defaultValue = "3", description = "Timed optimiser steps; the median is reported, of an even count the lower middle (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--gradient-checkpointing", description = "Recompute each block's activations in backward (the reference's setting).")
    boolean checkpointing;

    @Option(names = "--trainable", defaultValue = "all", description = "all or drag-attention (default: ${DEFAULT-VALUE}).")
    String trainable;

    @Mixin
    BenchModelArgs bench;

    @Override
    public Integer call() throws Exception {
        if (steps < 1) throw new UserError("--steps must be >= 1, got " + steps);
        if (warmup < 0) throw new UserError("--warmup must be >= 0, got " + warmup);
        if (warmup > Integer.MAX_VALUE - steps)   // the steps run, an int: past it the sum wrapped negative
            throw new UserError("--warmup + --steps must be at most " + Integer.MAX_VALUE + ", got " + warmup + " + " + steps);
        SamplingArgs.checkFrames(frames);
        TrainingOptions.checkUNetTrainable(trainable);
        bench.check();
        TrainingConfig cfg;
        try {
            cfg = new TrainingConfig(0, 1, 1, warmup + steps, 1e-5, false, 0, 1.0, 0, 0, checkpointing, trainable, true, 1, 1);
        } catch (IllegalArgumentException e) {
            throw new UserError(Main.message(e));
        }
        try (LoadedModel m = bench.open();
             Scope data = Scope.open()) {
            Backend backend = m.unetWeights().backend();
            DType dt = m.unetWeights().dtype();
            int latent = m.resolution() / m.vae.config().downscaleFactor(), ch = m.unet.config().outChannels();
            int ctx = m.unet.config().crossAttentionDim();
            Tensor latents = random(backend, dt.full(), 1, frames, latent, latent, ch), cond = random(backend, dt, 1, latent, latent, ch);
            Tensor emb = random(backend, dt, 1, 1, ctx);
            float[] d = DragPath.tensor(List.of(DragPath.line(0.3, 0.5, 0.6, 0.55), DragPath.line(0.7, 0.3, 0.7, 0.1)), frames);
            Tensor drags = Tensor.of(backend, DType.F32, new int[]{1, frames, DragTensor.SLOTS, 4}, d);
            TrainingData batch = new TrainingData() {
                @Override
                public int size() { return 1; }

                @Override
                public EdmLoss.Batch batch(int[] clips, long seed, long microStep, Backend b, DType t) { return new EdmLoss.Batch(latents, cond, emb, drags); }
            };
            EdmObjective objective = new EdmObjective(m.unet, m.unetWeights(), batch, true, 0);
            Map<String, Tensor> params = cfg.selectTrainable(m.unetWeights());
            String what = String.format(Locale.ROOT, "%s (%s), latents 1x%dx%dx%d, %d trainable tensors, checkpointing %s, %s %s",
                    bench.label(), m.manifest.kind(), frames, latent, latent, params.size(), checkpointing ? "on" : "off",
                    backend.name(), dt);
            System.err.println("bench train: " + what);
            long[] ms = new long[steps];
            long forwardFlops = 0, backwardFlops = 0, recomputedFlops = 0, peak = 0;
            int skipped = 0;   // timed steps loss scaling skipped: no Adam update, so shorter
            LossScaler scaler = LossScaler.forWeights(dt);   // as train runs the step
            try (Adam adam = new Adam(params, cfg.adam())) {
                for (int i = 0; i < warmup + steps; i++) {
                    backend.resetPeak();
                    long t0 = System.nanoTime(), fwd, bwd, all;
                    FlopCount.start();
                    try (Scope s = Scope.open(); Autograd.Tape tape = Autograd.tape()) {
                        Tensor loss = objective.loss(new int[]{0}, i, checkpointing);
                        fwd = FlopCount.current();
                        Autograd.backward(scaler.scaled(loss));
                        bwd = FlopCount.backward();
                    } finally {
                        all = FlopCount.stop();
                    }
                    boolean skip = scaler.step(adam, 1).skipped();
                    backend.synchronize();
                    long t = (System.nanoTime() - t0) / 1_000_000;
                    if (i >= warmup) {
                        ms[i - warmup] = t;
                        forwardFlops = fwd;
                        backwardFlops = bwd;
                        recomputedFlops = all - fwd - bwd;   // the forward ops a checkpointed backward ran again
                        peak = Math.max(peak, backend.peakBytes());
                        if (skip) skipped++;
                        System.err.printf(Locale.ROOT, "  step %d: %d ms%s%n", i - warmup + 1, t, skip ? " (skipped by loss scaling: no optimiser update)" : "");
                    }
                }
            }
            long[] sorted = ms.clone();
            Arrays.sort(sorted);
            long med = sorted[Median.index(steps)];
            long modelFlops = forwardFlops + backwardFlops;
            double tflops = modelFlops / (med / 1e3) / 1e12;
            Double mfu = bench.mfu(tflops);
            System.out.printf(Locale.ROOT, "train step: %d ms (median of %d); %.4g TFLOP/step (forward %.4g, backward %.4g%s), %.4f TFLOP/s%s; peak memory %.1f MiB%n",
                    med, steps, modelFlops / 1e12, forwardFlops / 1e12, backwardFlops / 1e12,
                    checkpointing ? String.format(Locale.ROOT, "; recomputed %.4g more", recomputedFlops / 1e12) : "", tflops, mfu == null ? "" : String.format(Locale.ROOT, ", MFU %.1f%%", 100 * mfu),
                    peak / 1048576.0);
            if (skipped > 0) System.out.printf(Locale.ROOT, "%d of the %d timed steps skipped by fp16 loss scaling (gradients overflowed; no Adam update)%n", skipped, steps);
            ObjectNode o = Json.mapper().createObjectNode();
            o.put("date", Instant.now().toString()).put("what", what).put("model", bench.label()).put("backend", backend.name()).put("dtype", dt.name())
                    .put("frames", frames).put("latent_side", latent).put("gradient_checkpointing", checkpointing).put("trainable", trainable);
            o.put("median_ms_per_step", med);
            var all = o.putArray("ms_per_step");
            for (long t : ms) all.add(t);
            o.put("forward_flops", forwardFlops).put("backward_flops", backwardFlops).put("model_flops_per_step", modelFlops)
                    .put("recomputed_flops", recomputedFlops).put("tflops_per_s", tflops);
            if (mfu != null) o.put("mfu", mfu); else o.putNull("mfu");
            o.put("peak_bytes", peak);
            if (scaler.dynamic()) o.put("skipped_steps", skipped);
            bench.write(o);
        }
        return 0;
    }

    private static Tensor random(Backend b, DType dt, int... shape) {
        Tensor t = b.empty(dt, shape);
        b.fillRandom(t, RandomKind.NORMAL, 7, 0);
        return t;
    }
}
