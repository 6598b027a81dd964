package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.Adam;
import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.LossPlot;
import dev.puppetengine.train.Trainer;
import dev.puppetengine.train.TrainingCheckpoint;
import dev.puppetengine.train.TrainingConfig;
import me.tongfei.progressbar.ProgressBar;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** Shared steps of the training commands: load the starting model, run with a progress bar and signal handling. */
final class Training {
    private Training() {}

    static LoadedModel load(Path model) throws IOException {
        return SamplingArgs.loadModel(model, CpuBackend.get(), DType.F32);
    }

    /** What a run reads, for {@link Trainer#inputs}: the starting model's component checksums and the data's identity. */
    static ObjectNode inputs(LoadedModel m, JsonNode data) {
        ObjectNode in = Json.mapper().createObjectNode();
        ObjectNode model = in.putObject("model");
        m.manifest.components().forEach((name, e) -> model.put(name + "_sha256", e.sha256()));
        in.set("data", data);
        return in;
    }

    /** What OUT/model's manifest adds to the start model's history for {@code command}'s run on {@code data} (EMA weights as train says). */
    static String source(String command, Path data, TrainingConfig cfg) {
        return command + " on " + data + " (" + cfg.steps() + " steps" + (cfg.emaDecay() > 0 ? ", EMA" : "") + ")";
    }

    /** The stop of the export after the last step (out/model, written whole): a signal then says what is kept and how to go on. */
    static GracefulStop exporting(Path out) {
        return StopNote.saying("the run's checkpoints are kept; the same command exports " + out.resolve("model") + " again");
    }

    /** Runs to the end (or a signal); returns the latest checkpoint to export from, or null when stopped early. */
    static Path run(Trainer t, TrainingConfig cfg, String task, Path out) throws IOException {
        return run(t, cfg, task, out, p -> {});
    }

    /** As above; {@code each} also hears every optimiser step (train's previews). */
    static Path run(Trainer t, TrainingConfig cfg, String task, Path out, Trainer.Listener each) throws IOException {
        // before the bar: a resume refused for other settings says so without a bar, and the bar counts from the
        // checkpoint resumed, so that its ETA times only this run's steps
        long done = t.prepare(note -> ProgressBars.println("note: " + note));
        Trainer.Result r;
        try (GracefulStop stop = t.stopOnSignal(300, ProgressBars::println)) {
            try (ProgressBar bar = ProgressBars.of(task, cfg.steps(), null, done)) {
                r = t.run(listener(bar, each, out));
            } catch (Adam.NonFiniteException e) {   // the curve up to the failure helps judge it; the failure is what to report
                try {
                    LossPlot.write(out.resolve("log.jsonl"), out.resolve("loss.png"));
                } catch (IOException | RuntimeException plot) {
                    e.addSuppressed(plot);
                }
                throw e;
            }
            if (r.stoppedBySignal()) {   // still inside: the JVM exits as soon as the latch opens; the message first
                if (r.lastCheckpoint() == null)   // stopped in the first step: nothing kept
                    System.err.println("stopped before the first step finished: nothing to resume; the same command starts the run over");
                else
                    System.err.printf(Locale.ROOT, "stopped at step %d; checkpoint %s; run the same command again to resume%n", r.endStep(), r.lastCheckpoint());
                try {
                    LossPlot.write(out.resolve("log.jsonl"), out.resolve("loss.png"));
                } catch (IOException | RuntimeException e) {   // a convenience: the next run redraws it
                    System.err.println("loss curve not redrawn while shutting down: " + Main.message(e));
                }
                return null;
            }
            LossPlot.write(out.resolve("log.jsonl"), out.resolve("loss.png"));
        }
        if (r.startStep() == r.endStep())   // run again after it finished: nothing trained, the model exported again
            System.err.printf(Locale.ROOT, "the run had already finished its %d steps; nothing trained; loss curve %s%n", r.endStep(), out.resolve("loss.png"));
        else
            System.err.printf(Locale.ROOT, "trained steps %d..%d%s; loss curve %s%n", r.startStep() + 1, r.endStep(), r.skippedSteps() == 0 ? ""
                    : " (" + r.skippedSteps() + " skipped by fp16 loss scaling: their gradients overflowed, log.jsonl \"skipped\")", out.resolve("loss.png"));
        return TrainingCheckpoint.latest(out);
    }

    /**
     * Drives {@code bar} with each optimiser step's loss, gradient norm, learning rate, clips/s and, in fp16, loss scale,
     * then tells {@code each}; resumption is said above the bar.
     */
    private static Trainer.Listener listener(ProgressBar bar, Trainer.Listener each, Path out) {
        return new Trainer.Listener() {
            @Override
            public void step(Trainer.Progress p) {
                bar.stepTo(p.step());
                bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f  |g| %s  lr %.2e  %.2f clips/s%s", p.loss(),
                        p.skipped() ? "inf (step skipped)" : String.format(Locale.ROOT, "%.3f", p.gradNorm()), p.lr(), p.clipsPerSecond(),
                        p.lossScale() > 0 ? String.format(Locale.ROOT, "  scale %.6g", p.lossScale()) : ""));
                each.step(p);
            }

            @Override
            public void resumed(Path checkpoint, long step) { ProgressBars.println("resuming the run in " + out + " at step " + step + " (" + checkpoint + ")"); }
        };
    }
}
