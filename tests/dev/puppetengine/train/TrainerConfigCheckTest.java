package dev.puppetengine.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * config.json: a run directory with a checkpoint resumes only under the settings, model and inputs it was begun with, and says
 * which differ; a config.json of an earlier engine (a field it did not record) or another version (a field this one does not
 * know) is refused as such; fields of the model are never taken for another engine's. On a Linear(2, 1): checkConfig runs in
 * prepare, before any step.
 */
class TrainerConfigCheckTest {
    static final CpuBackend CPU = CpuBackend.get();

    @TempDir
    Path tmp;

    private static TrainingConfig config(long steps) {
        return new TrainingConfig(5, 1, 1, steps, 0.1, false, 0, 0, 0, 0, false, "all", true, 1, 2);
    }

    /** One item whose loss at micro-step m is the Linear's output at (1, m). */
    private static Objective objective(Linear lin) {
        return new Objective() {
            public int size() { return 1; }
            public Tensor loss(int[] items, long micro, boolean c) { return F.mean(lin.forward(Tensor.of(CPU, DType.F64, new int[]{1, 2}, 1.0, micro))); }
        };
    }

    /** prepare (run too when {@code run}) of {@code cfg} with {@code inputs} in {@code dir}; returns the step it starts at. */
    private long prepare(Path dir, TrainingConfig cfg, JsonNode inputs, boolean run, Consumer<String> notes) throws Exception {
        Linear lin = new Linear(2, 1, true);
        try (RunDirectory rd = RunDirectory.lock(dir); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(lin, CPU, DType.F64, 3)) {
            Trainer t = new Trainer(rd, objective(lin), ps, "{\"in\":2}", cfg).inputs(inputs);
            long start = t.prepare(notes);
            if (run) t.run(null);
            return start;
        }
    }

    private String refusal(Path dir, TrainingConfig cfg, JsonNode inputs) {
        return assertThrows(IllegalArgumentException.class, () -> prepare(dir, cfg, inputs, false, n -> {})).getMessage();
    }

    private static ObjectNode json(String s) throws Exception { return (ObjectNode) Json.mapper().readTree(s); }

    @Test
    void aResumedRunNamesTheSettingsThatDifferOrTheEngineThatBeganIt() throws Exception {
        Path run = tmp.resolve("run"), config = run.resolve("config.json");
        JsonNode data = json("{\"data\":1}");
        prepare(run, config(2), data, true, n -> {});
        String saved = Files.readString(config);
        List<String> notes = new ArrayList<>();
        assertEquals(2, prepare(run, config(2), data, false, notes::add), "the same settings and inputs resume");
        assertEquals(List.of(), notes);
        Path staged = Files.createDirectories(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000003.tmp-1"));   // one save a kill cut short
        assertEquals(2, prepare(run, config(2), data, false, notes::add));
        assertEquals(List.of("removed 1 unfinished write (*.tmp-*) a killed run left in " + run), notes);
        assertFalse(Files.exists(staged));
        String other = ": this run directory was started with other settings or inputs (";
        String use = "); use a new --out directory or the same settings and inputs";
        assertEquals(config + other + "training.steps 2 -> 3" + use, refusal(run, config(3), data));
        assertEquals(config + other + "inputs.data 1 -> 2" + use, refusal(run, config(2), json("{\"data\":2}")));

        ObjectNode edited = json(saved);
        edited.remove("inputs");   // begun before inputs were recorded: resumed as it was
        Files.writeString(config, edited.toString());
        assertEquals(2, prepare(run, config(2), data, false, n -> {}));

        String cannot = ": resuming it could not be checked to go on as it began; use a new --out directory";
        edited = json(saved);
        edited.remove("random_streams");
        Files.writeString(config, edited.toString());
        assertEquals(config + ": this run directory was begun by an earlier engine, which did not record random_streams" + cannot, refusal(run, config(2), data));
        ((ObjectNode) edited.get("training")).put("knob", 1);
        Files.writeString(config, edited.toString());
        assertEquals(config + ": this run directory was begun by another version of the engine, which did not record random_streams and recorded training.knob,"
                + " unknown to this one" + cannot, refusal(run, config(2), data));
        edited = json(saved);
        ((ObjectNode) edited.get("training")).put("knob", 1);
        Files.writeString(config, edited.toString());
        assertEquals(config + ": this run directory was begun by another version of the engine, which recorded training.knob, unknown to this one" + cannot,
                refusal(run, config(2), data));
        edited = json(saved);
        edited.remove("random_streams");
        Files.writeString(config, edited.toString());
        assertEquals(config + other + "training.steps 2 -> 3, random_streams (absent: an engine before 2026-12-01) -> " + Streams.LAYOUT + " (the run's random"
                + " draws would change)" + use, refusal(run, config(3), data), "a setting that differs too: other settings");
        edited = json(saved);
        edited.put("random_streams", 1);   // an engine of another stream layout
        Files.writeString(config, edited.toString());
        assertEquals(config + other + "random_streams 1 -> " + Streams.LAYOUT + " (the run's random draws would change)" + use, refusal(run, config(2), data));
        edited = json(saved);
        ((ObjectNode) edited.get("model")).put("x", 1);   // a model field the model now leaves out: another model, not another engine
        Files.writeString(config, edited.toString());
        assertEquals(config + other + "model.x 1 -> (absent)" + use, refusal(run, config(2), data));
    }

    /**
     * How often checkpoints are saved and how many are kept change nothing the run computes: a resume takes new ones,
     * saying so, and records them (a resume that only wanted more frequent checkpoints or less disk was refused).
     */
    @Test
    void aResumeTakesOtherCheckpointSettings() throws Exception {
        Path run = tmp.resolve("storage"), config = run.resolve("config.json");
        JsonNode data = json("{\"data\":1}");
        prepare(run, config(2), data, true, n -> {});
        TrainingConfig c = config(2), more = new TrainingConfig(c.seed(), c.batchSize(), c.accumulation(), c.steps(), c.lr(), c.adamW(), c.weightDecay(),
                c.maxGradNorm(), c.warmupSteps(), c.emaDecay(), c.gradientCheckpointing(), c.trainable(), c.applyCIn(), 3, 5);
        List<String> notes = new ArrayList<>();
        assertEquals(2, prepare(run, more, data, false, notes::add));
        assertEquals(List.of(run + ": taking training.checkpoint_every 1 -> 3, training.keep_checkpoints 2 -> 5 (which checkpoints are saved and kept,"
                + " not what the run computes)"), notes);
        assertEquals(5, Json.read(config).path("training").path("keep_checkpoints").asInt());
        notes.clear();
        assertEquals(2, prepare(run, more, data, false, notes::add));
        assertEquals(List.of(), notes, "recorded: nothing to say the next time");
        TrainingConfig moreSteps = new TrainingConfig(c.seed(), c.batchSize(), c.accumulation(), 3, c.lr(), c.adamW(), c.weightDecay(),
                c.maxGradNorm(), c.warmupSteps(), c.emaDecay(), c.gradientCheckpointing(), c.trainable(), c.applyCIn(), 3, 5);
        assertTrue(refusal(run, moreSteps, data).contains("(training.steps 2 -> 3)"), "what the run computes is still refused");
    }

    /** Without a checkpoint other settings start the run over, saying which; config.json then holds the new ones. */
    @Test
    void aRunWithoutACheckpointStartsOverUnderOtherSettings() throws Exception {
        Path run = tmp.resolve("fresh");
        JsonNode data = json("{\"data\":1}");
        List<String> notes = new ArrayList<>();
        assertEquals(0, prepare(run, config(2), data, false, notes::add));
        assertEquals(List.of(), notes, "nothing there: nothing to say");
        assertEquals(0, prepare(run, config(3), data, false, notes::add));
        assertEquals(List.of(run + ": the earlier attempt there left no checkpoint; starting it over with these settings (training.steps 2 -> 3)"), notes);
        assertEquals(3, Json.read(run.resolve("config.json")).path("training").path("steps").asInt());
    }

    /**
     * A stop asked in the middle of a step (its accumulation can outlast the wait a signal gets) drops that step at its
     * next micro-step and checkpoints the last finished one; resumed, the run ends with the weights of one never stopped.
     */
    @Test
    void aStopMidStepDropsTheStepAndTheResumeRedoesIt() throws Exception {
        TrainingConfig accumulating = new TrainingConfig(5, 1, 4, 3, 0.1, false, 0, 0, 0, 0, false, "all", true, 1, 2);
        double[] straight = null, resumed = null;
        for (Path run : new Path[]{tmp.resolve("straight"), tmp.resolve("stopped")}) {
            Linear lin = new Linear(2, 1, true);
            try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(lin, CPU, DType.F64, 3)) {
                List<Long> micros = new ArrayList<>();
                try (RunDirectory rd = RunDirectory.lock(run)) {
                    Trainer[] t = new Trainer[1];
                    Objective stopsInStep2 = new Objective() {   // asked during micro-step 5, the second of step 2's four
                        public int size() { return 1; }
                        public Tensor loss(int[] items, long micro, boolean c) throws IOException {
                            micros.add(micro);
                            if (micro == 5 && run.endsWith("stopped")) t[0].requestStop();
                            return objective(lin).loss(items, micro, c);
                        }
                    };
                    t[0] = new Trainer(rd, stopsInStep2, ps, "{}", accumulating);
                    Trainer.Result r = t[0].run(null);
                    if (run.endsWith("stopped")) {
                        assertEquals(new Trainer.Result(0, 1, true, TrainingCheckpoint.checkpointsDir(run).resolve("step-00000001"), 0), r);
                        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), micros, "step 2 dropped at its third micro-step");
                        assertEquals(1, Json.read(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000001/state.json")).path("step").asInt());
                        assertEquals(1, Files.readAllLines(run.resolve("log.jsonl")).size(), "the dropped step is not logged");
                        micros.clear();
                        r = new Trainer(rd, stopsInStep2, ps, "{}", accumulating).run(null);   // resumed: step 2 redone from its first micro-step
                        assertEquals(new Trainer.Result(1, 3, false, TrainingCheckpoint.checkpointsDir(run).resolve("step-00000003"), 0), r);
                        assertEquals(List.of(4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L), micros);
                        resumed = ps.parameters().get("weight").value().toDoubleArray();
                    } else {
                        straight = ps.parameters().get("weight").value().toDoubleArray();
                    }
                }
            }
        }
        assertArrayEquals(straight, resumed);
    }

    /** stopOnSignal: the hook a signal runs asks this trainer to stop, so the run ends after its current step (2 of 5), checkpointed. */
    @Test
    void aSignalStopsTheRunAfterItsStep() throws Exception {
        Path run = tmp.resolve("signal");
        Linear lin = new Linear(2, 1, true);
        try (RunDirectory rd = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(lin, CPU, DType.F64, 3)) {
            Trainer t = new Trainer(rd, objective(lin), ps, "{}", config(5));
            Trainer.Result r;
            List<String> said = new ArrayList<>();
            try (GracefulStop stop = t.stopOnSignal(1, said::add)) {
                Thread hook = stop.hook();
                r = t.run(p -> {
                    if (p.step() == 2) hook.run();   // what the JVM runs at SIGINT: asks for the stop (then waits its 1 s for the close)
                });
            }
            assertEquals(new Trainer.Result(0, 2, true, TrainingCheckpoint.checkpointsDir(run).resolve("step-00000002"), 0), r);
            assertEquals(List.of("stopping: after the micro-step under way (a step not finished is dropped, redone on resume), then checkpointing"), said,
                    "said at once, before the step under way ends");
        }
    }
}
