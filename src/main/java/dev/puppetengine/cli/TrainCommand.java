package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.eval.ClipSource;
import dev.puppetengine.eval.Example;
import dev.puppetengine.io.Json;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.PreparedData;
import dev.puppetengine.train.PreparedDataWriter;
import dev.puppetengine.train.RunDirectory;
import dev.puppetengine.train.Trainer;
import dev.puppetengine.train.TrainingCheckpoint;
import dev.puppetengine.train.TrainingConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** ./puppet-engine train: fine-tunes the UNet of a model on prepared clips (spec 4). */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false, defaultValueProvider = TrainingOptions.ForTrain.class,
        description = {"Fine-tune a model's UNet with the EDM loss on clips made by the prepare command.",
                "The run directory OUT gets config.json, log.jsonl, loss.png, checkpoints/ (every --checkpoint-every steps, on Ctrl-C, and when"
                        + " a NaN or infinite loss or gradient stops the run; in fp16 such a gradient skips the step), previews/step-N.gif and, at the end, OUT/model (the fine-tuned model,"
                        + " EMA weights when --ema is set). Run the same command again to resume exactly where it stopped; one run at a time per OUT,"
                        + " and one that stopped before its first checkpoint starts over (with any settings).",
                "--dtype bf16 is mixed precision: bf16 weights and activations, fp32 master weights, Adam moments and loss. --dtype fp16 is the"
                        + " same in fp16, with dynamic loss scaling as the reference's (scale 2^16, halved when the gradients overflow, and that"
                        + " optimiser step skipped, logged and counted in --steps; doubled after 2000 good steps).",
                "The defaults suit toy-size runs; the reference's recipe for the full model is --lr 1e-5 --accumulation 64 --ema 0.9999"
                        + " --gradient-checkpointing (its 1.5 M micro-steps are about 23,400 optimiser steps here)."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Starting model directory (converted SVD/Puppet-Master, or create-model).")
    Path model;

    @Option(names = "--data", required = true, description = "Directory with prepared.safetensors (./puppet-engine prepare).")
    Path data;

    @Option(names = "--out", required = true, description = "Run directory.")
    Path out;

    @Option(names = "--trainable", defaultValue = "all", description = "all, or drag-attention (only drag modules and attention) (default: ${DEFAULT-VALUE}).")
    String trainable;

    @Option(names = "--unscaled-input", description = "Train on the unscaled noisy latent like the public train.py (spec 4.2); default scales by c_in.")
    boolean unscaledInput;

    @Option(names = "--preview-clips", description = "Clip dataset whose first validation clip is sampled into OUT/previews/ (usually the dataset that was prepared).")
    Path previewClips;

    @Option(names = "--preview-every", defaultValue = "500", description = "Steps between preview GIFs (default: ${DEFAULT-VALUE}).")
    int previewEvery;

    @Option(names = "--preview-steps", defaultValue = "10", description = "Sampling steps of a preview, 1 to " + SamplingOptions.MAX_STEPS + " (default: ${DEFAULT-VALUE}).")
    int previewSteps;

    @Option(names = "--kind", defaultValue = "fine-tuned", description = "Kind recorded in OUT/model's manifest (default: ${DEFAULT-VALUE}).")
    String kind;

    @Mixin
    TrainingOptions training;

    @Mixin
    DeviceArgs target;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (previewEvery < 1) throw new UserError("--preview-every must be >= 1");
        if (previewSteps < 1 || previewSteps > SamplingOptions.MAX_STEPS)   // refused now, not after the model has loaded
            throw new UserError("--preview-steps must be 1 to " + SamplingOptions.MAX_STEPS + ", got " + previewSteps);
        if (previewClips == null)   // they would be ignored: no clip to preview
            for (String o : new String[]{"--preview-every", "--preview-steps"})
                if (spec.commandLine().getParseResult().hasMatchedOption(o)) throw new UserError(o + " needs --preview-clips (the clips whose first validation clip is previewed)");
        OutputPaths.directory("--out", out, false);
        DType export = training.exportDtype();
        if (kind.isBlank()) throw new UserError("--kind: empty; it names the model in OUT/model's manifest (default fine-tuned)");
        TrainingOptions.checkUNetTrainable(trainable);
        TrainingConfig cfg = training.config(trainable, !unscaledInput);
        DType dt = target.dtype();
        try (PreparedData prepared = PreparedData.open(data)) {
            training.checkBatchSize(prepared.size(), data);
            try (RunDirectory run = RunDirectory.lock(out); LoadedModel m = SamplingArgs.loadModel(model, target.backend(), dt)) {
                prepared.checkFits(m.unet.config());
                for (String note : prepared.checkEncoders(m.vae.scalingFactor(), m.manifest.components().get("vae").sha256(),
                        m.manifest.components().get("image_encoder").sha256()))
                    System.err.println("note: " + note);
                if (Files.isDirectory(data.resolve(PreparedDataWriter.WORK)))
                    System.err.println("note: " + data.resolve(PreparedDataWriter.WORK) + " holds an unfinished prepare; training on the " + PreparedData.FILE
                            + " an earlier prepare left there");
                if (!m.manifest.scalesUNetInput() && !unscaledInput)
                    throw new UserError(model + " was trained on the unscaled noisy latent (its manifest's unet_input): pass --unscaled-input to go on"
                            + " training it so (scaling it now would train it toward another input, and its previews would be sampled unscaled)");
                System.err.println("train: " + model + " on " + m.unetWeights().backend().name() + ", " + dt
                        + (dt == dt.full() ? "" : " weights and activations; F32 master weights, moments and loss")
                        + (dt == DType.F16 ? "; dynamic loss scaling" : ""));
                Preview preview = previewClips == null ? null : Preview.of(previewClips, m, out.resolve("previews"), previewSteps, !unscaledInput);
                // inputs: the data only; the UNet resumes from its checkpoint, and its VAE and image encoder (previews, export) may be
                // swapped for equivalent ones (a retrained decoder) as long as checkEncoders above accepts them
                Trainer t = Trainer.forUNet(run, m.unet, m.unetWeights(), prepared, cfg)
                        .inputs(Json.mapper().createObjectNode().set("data", prepared.identity()));
                Path ckpt = Training.run(t, cfg, "train", out, p -> {
                    if (preview != null && Preview.during(p.step(), p.totalSteps(), previewEvery)) preview.write(p.step());
                });
                if (ckpt == null) return 0;
                try (GracefulStop stop = Training.exporting(out)) {   // and the last preview
                    boolean ema = cfg.emaDecay() > 0;
                    TrainingCheckpoint.loadWeights(ckpt, ema, m.unetWeights());   // for the last preview
                    String note = "train on " + data + " from " + model + " (" + cfg.steps() + " steps" + (ema ? ", EMA" : "")
                            + (unscaledInput ? ", unscaled input" : "") + ")";
                    if (export != dt && dt != dt.full()) {   // trained in low precision: the trained weights' fp32 masters, frozen ones as the source has them
                        try (LoadedModel full = SamplingArgs.loadModel(model, CpuBackend.get(), DType.F32)) {
                            TrainingCheckpoint.loadWeights(ckpt, ema, full.unetWeights(), cfg::isTrainable);
                            full.save(out.resolve("model"), kind, note, !unscaledInput, export, Map.of(), true);
                        }
                    } else {
                        m.save(out.resolve("model"), kind, note, !unscaledInput, export, Map.of(), true);
                    }
                    System.err.println("wrote " + out.resolve("model") + (unscaledInput ? " (its manifest says unet_input unscaled: sampling feeds it that way)" : ""));
                    if (preview != null) preview.write(cfg.steps());
                }
            }
        }
        return 0;
    }

    /** Samples the first validation clip's image and drags (read as eval reads them) with the weights being trained. */
    record Preview(PuppetMaster pm, Example clip, Path dir, SamplingOptions opts) {
        static Preview of(Path clips, LoadedModel m, Path dir, int steps, boolean scaleInput) throws IOException {
            ClipSource source = new ClipSource(clips);
            if (source.names().isEmpty()) throw new UserError("--preview-clips " + clips + " has no validation clips to preview");
            Example c = source.load(source.names().get(0));
            return new Preview(new PuppetMaster(m), c, dir,
                    SamplingOptions.defaults().withSteps(steps).withFrames(c.groundTruth().size()).withScaleInput(scaleInput));
        }

        /**
         * Whether step {@code step} of {@code total} is previewed as it ends: every {@code every} steps but the last, whose
         * preview comes after the export, from the final checkpoint's weights (the EMA's where kept), so that it is sampled once.
         */
        static boolean during(long step, long total, int every) {
            return step % every == 0 && step < total;
        }

        void write(long step) {
            try {
                Files.createDirectories(dir);
                var r = pm.sample(clip.image(), clip.drags(), opts, null);
                // as sample does: NaN or infinite values are said, not only drawn black, and an all-black preview is not written
                if (r.nonFinite() > 0) ProgressBars.println("warning: preview at step " + step + (r.blank() ? " not written: " : ": ") + r.nonFiniteNote());
                if (!r.blank())
                    VideoOutput.write(dir.resolve("step-" + step + ".gif"), VideoOutput.Kind.GIF, r.frames(), clip.drags(), true, VideoOutput.DEMO_FPS);
            } catch (IOException e) {
                ProgressBars.println("warning: preview at step " + step + " failed: " + Main.message(e));
            }
        }
    }
}
