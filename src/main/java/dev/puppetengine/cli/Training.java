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

    /** Runs to the end (or a signal); returns the latest checkpoint to export from, or null when stopped early. */
    static Path run(Trainer t, TrainingConfig cfg, String task, Path out) throws IOException {
        try (ProgressBar bar = ProgressBars.of(task, cfg.steps(), null)) {
            return run(t, out, TrainingOptions.listener(bar));
        }
    }

    /** As above with the caller's listener (which drives its own progress bar). */
    static Path run(Trainer t, Path out, Trainer.Listener listener) throws IOException {
        Trainer.Listener saying = new Trainer.Listener() {
            @Override
            public void step(Trainer.Progress p) { listener.step(p); }

            @Override
            public void resumed(Path checkpoint, long step) { System.err.println("resuming the run in " + out + " at step " + step + " (" + checkpoint + ")"); }

            @Override
            public void note(String message) { System.err.println("note: " + message); }
        };
        Trainer.Result r;
        try (GracefulStop stop = t.stopOnSignal(300)) {
            try {
                r = t.run(saying);
            } catch (Adam.NonFiniteException e) {   // the curve up to the failure helps judge it; the failure is what to report
                try {
                    LossPlot.write(out.resolve("log.jsonl"), out.resolve("loss.png"));
                } catch (IOException | RuntimeException plot) {
                    e.addSuppressed(plot);
                }
                throw e;
            }
            if (r.stoppedBySignal()) {   // still inside: the JVM exits as soon as the latch opens; the message first
                System.err.printf("%nstopped at step %d; checkpoint %s; run the same command again to resume%n", r.endStep(), r.lastCheckpoint());
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
            System.err.printf("the run had already finished its %d steps; nothing trained; loss curve %s%n", r.endStep(), out.resolve("loss.png"));
        else
            System.err.printf("trained steps %d..%d%s; loss curve %s%n", r.startStep() + 1, r.endStep(), r.skippedSteps() == 0 ? ""
                    : " (" + r.skippedSteps() + " skipped by fp16 loss scaling: their gradients overflowed, log.jsonl \"skipped\")", out.resolve("loss.png"));
        return TrainingCheckpoint.latest(out);
    }
}
