package dev.puppetengine.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.Signals;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainerTest {
    static final CpuBackend CPU = CpuBackend.get();

    @TempDir
    Path tmp;

    /** What the runs of a test noted about their directories. */
    private final List<String> notes = new ArrayList<>();

    /** Runs {@code steps} in {@code run}, stopping (as a signal would) after {@code stopAfter} steps. */
    private Trainer.Result train(Path run, long steps, long stopAfter, List<Double> losses) throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            Trainer t = Trainer.forUNet(dir, unet, ps, TrainerChild.data(), TrainerChild.config(steps));
            return t.run(listener(t, stopAfter, losses));
        }
    }

    /** Collects each step's loss (unless {@code losses} is null) and the notes; stops {@code t} after step {@code stopAfter}. */
    private Trainer.Listener listener(Trainer t, long stopAfter, List<Double> losses) {
        return new Trainer.Listener() {
            @Override
            public void step(Trainer.Progress p) {
                if (losses != null) losses.add(p.loss());
                if (p.step() >= stopAfter) t.requestStop();
            }

            @Override
            public void note(String message) { notes.add(message); }
        };
    }

    private static double[] weights(Path ckpt, String file, String key) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(ckpt.resolve(file)); Scope s = Scope.open()) {
            return r.load(key, CPU).toDoubleArray();
        }
    }

    private static final String[] KEYS = {"conv_in.weight", "down_blocks.0.flow_convs.0.conv_in.weight", "up_blocks.3.drag_token_mlps.2.2.bias",
            "mid_block.attentions.0.transformer_blocks.0.attn1.to_k.weight"};

    private static void assertSameState(Path a, Path b) throws Exception {
        for (String k : KEYS) {
            assertArrayEquals(weights(a, "weights.safetensors", k), weights(b, "weights.safetensors", k), k);
            assertArrayEquals(weights(a, "optimizer.safetensors", "v." + k), weights(b, "optimizer.safetensors", "v." + k), "v." + k);
            assertArrayEquals(weights(a, "ema.safetensors", k), weights(b, "ema.safetensors", k), "ema " + k);
        }
    }

    /**
     * A Trainer run a second time prepares again, as a new Trainer on the directory would: it resumes from the checkpoint
     * the first run left, not from what the first run was prepared with (nothing: it started over from step 0 on the
     * trained weights, emptying the log of the steps it had trained).
     */
    @Test
    void aSecondRunOfOneTrainerResumesWhereTheFirstEnded() throws Exception {
        Path run = tmp.resolve("twice");
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            Trainer t = Trainer.forUNet(dir, unet, ps, TrainerChild.data(), TrainerChild.config(2));
            assertEquals(0, t.prepare(n -> {}));
            Trainer.Result first = t.run(null);
            assertEquals(0, first.startStep());
            assertEquals(2, first.endStep());
            Trainer.Result again = t.run(null);
            assertEquals(2, again.startStep(), "resumed at the first run's last checkpoint");
            assertEquals(2, again.endStep());
        }
        assertEquals(2, Files.readAllLines(run.resolve("log.jsonl")).size());
    }

    @Test
    void overfittingOneBatchLowersTheLoss() throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            TrainingConfig c = new TrainingConfig(5, 1, 1, 30, 2e-3, false, 0, 1.0, 0, 0, false, "all", true, 100, 1);
            TrainingData one = new TrainingData() {          // the same clip and noise level every step
                public int size() { return 1; }
                public EdmLoss.Batch batch(int[] clips, long seed, long micro, Backend be, DType dt) {
                    return TrainerChild.data().batch(clips, seed, 0, be, dt);
                }
            };
            EdmLoss edm = new EdmLoss(unet, true);
            ps.requireGrad(n -> true);
            double first = 0, last = 0;
            try (Adam adam = new Adam(trainable(ps), c.adam())) {
                for (int i = 0; i < 30; i++) {
                    try (Scope st = Scope.open()) {
                        Tensor l = edm.loss(one.batch(new int[]{0}, 5, 0, CPU, DType.F32), 5, 0, false);   // fixed step: same sigma, noise
                        if (i == 0) first = l.item();
                        last = l.item();
                        Autograd.backward(l);
                    }
                    adam.step(1);
                }
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
        }
    }

    private static Map<String, Tensor> trainable(ParameterStore ps) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        ps.parameters().forEach((k, p) -> m.put(k, p.value()));
        return m;
    }

    @Test
    void stopAndResumeEqualsAnUninterruptedRun() throws Exception {
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        List<Double> la = new ArrayList<>(), lb = new ArrayList<>();
        train(a, 6, Long.MAX_VALUE, la);
        Trainer.Result first = train(b, 6, 3, lb);
        assertTrue(first.stoppedBySignal());
        assertEquals(3, first.endStep());
        // what a kill after the checkpoint leaves: the next step's line, and a line cut short
        Files.writeString(b.resolve("log.jsonl"), "{\"step\":4,\"micro_step\":8,\"loss\":0.5}\n{\"step\":5,\"lo", StandardOpenOption.APPEND);
        Trainer.Result second = train(b, 6, Long.MAX_VALUE, lb);
        assertEquals(3, second.startStep());
        assertEquals(6, second.endStep());
        assertEquals(la, lb, "the same losses step by step");
        List<Long> logged = new ArrayList<>();
        for (String line : Files.readAllLines(b.resolve("log.jsonl"))) logged.add(Json.mapper().readTree(line).get("step").asLong());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), logged, "each step logged once");
        assertSameState(TrainingCheckpoint.latest(a), TrainingCheckpoint.latest(b));
        assertEquals(2, Files.list(TrainingCheckpoint.checkpointsDir(b)).count(), "keeps the newest 2");
    }

    /**
     * A NaN loss in micro-step 5 (optimiser step 3 of 2 micro-steps) stops the run: step 2, not yet due for a checkpoint,
     * is checkpointed with the counters of its end, the failure is logged, and the message says what was kept. Resumed
     * without the NaN, the run ends as one that never stopped.
     */
    @Test
    void aNonFiniteLossStopsTheRunKeepingTheLastGoodStep() throws Exception {
        Path run = tmp.resolve("nan"), ref = tmp.resolve("ref"), ref2 = tmp.resolve("ref2");
        TrainingConfig every10 = new TrainingConfig(5, 1, 2, 6, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 10, 2);
        trainWith(ref2, every10, 2, -1);   // stopped (as by a signal) after step 2: the state the failure must keep
        Adam.NonFiniteException e = assertThrows(Adam.NonFiniteException.class, () -> trainWith(run, every10, Long.MAX_VALUE, 5));
        assertTrue(e.getMessage().startsWith("training stopped: loss is NaN at micro-step 5 (clips ") && e.getMessage().contains("in optimiser step 3;")
                && e.getMessage().contains("the weights after step 2 are checkpointed in " + run.resolve("checkpoints").resolve("step-00000002")), e.getMessage());
        Path kept = TrainingCheckpoint.latest(run);
        assertEquals("step-00000002", kept.getFileName().toString());
        assertTrue(Files.readString(kept.resolve("state.json")).replace(" ", "").contains("\"micro_step\":4"), Files.readString(kept.resolve("state.json")));
        assertSameState(TrainingCheckpoint.latest(ref2), kept);
        List<String> log = Files.readAllLines(run.resolve("log.jsonl"));
        assertEquals(3, log.size());
        assertTrue(log.get(2).startsWith("{\"step\":3,\"micro_step\":4,\"error\":\"loss is NaN at micro-step 5"), log.get(2));

        trainWith(run, every10, Long.MAX_VALUE, -1);
        trainWith(ref, every10, Long.MAX_VALUE, -1);
        assertSameState(TrainingCheckpoint.latest(ref), TrainingCheckpoint.latest(run));
    }

    /**
     * log.jsonl on a full disk (a link to /dev/full, whose writes fail as a full disk's do, for any user): the run stops
     * with the file named, its last checkpoint intact, and goes on from there once the log can be written.
     */
    @Test
    void aLogThatCannotBeWrittenIsNamedAndTheRunResumes() throws Exception {
        Path full = Path.of("/dev/full");
        Assumptions.assumeTrue(Files.isWritable(full), "no /dev/full");
        Path run = tmp.resolve("full"), log = run.resolve("log.jsonl");
        train(run, 4, 2, null);   // stopped after step 2, checkpointed
        List<String> logged = Files.readAllLines(log);
        Files.delete(log);
        Files.createSymbolicLink(log, full);
        IOException e = assertThrows(IOException.class, () -> train(run, 4, Long.MAX_VALUE, null));
        assertEquals("writing " + log + ": No space left on device", e.getMessage());
        assertEquals("step-00000002", TrainingCheckpoint.latest(run).getFileName().toString());
        Files.delete(log);
        Files.write(log, logged);
        assertEquals(2, train(run, 4, Long.MAX_VALUE, null).startStep());
        assertEquals(4, Files.readAllLines(log).size());
    }

    /** The forward of a non-finite loss is never backpropagated: the stopped run frees what it saved, with everything else. */
    @Test
    void aRunStoppedByANonFiniteLossGivesBackItsMemory() {
        TrainingConfig cfg = new TrainingConfig(5, 1, 2, 2, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 10, 2);
        long before = CPU.bytesInUse();
        assertThrows(Adam.NonFiniteException.class, () -> trainWith(tmp.resolve("nan"), cfg, Long.MAX_VALUE, 1));
        assertEquals(before, CPU.bytesInUse());
    }

    /** A micro-step that throws after its forward recorded the whole graph (a device out of memory at the loss) leaks none of it. */
    @Test
    void aRunStoppedByAFailedForwardGivesBackItsMemory() {
        TrainingConfig cfg = new TrainingConfig(5, 1, 2, 2, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 10, 2);
        long before = CPU.bytesInUse();
        IOException e = assertThrows(IOException.class, () -> trainWith(tmp.resolve("failed"), cfg, Long.MAX_VALUE, (micro, loss) -> {
            if (micro == 1) throw new IOException("simulated failure after the forward");
            return loss;
        }));
        assertEquals("simulated failure after the forward", e.getMessage());
        assertEquals(before, CPU.bytesInUse());
    }

    /** What a test does to micro-step {@code micro}'s loss before the trainer sees it. */
    private interface LossHook {
        Tensor apply(long micro, Tensor loss) throws IOException;
    }

    /** Trains {@code run} with {@code cfg}, stopping after step {@code stopAfter}; micro-step {@code nanAt} (if >= 0) gives a NaN loss. */
    private void trainWith(Path run, TrainingConfig cfg, long stopAfter, long nanAt) throws Exception {
        trainWith(run, cfg, stopAfter, (micro, l) -> micro == nanAt ? F.scale(l, Double.NaN) : l);
    }

    private void trainWith(Path run, TrainingConfig cfg, long stopAfter, LossHook hook) throws Exception {
        trainWith(run, cfg, DType.F32, null, stopAfter, hook);
    }

    /** As above with weights of {@code dt}, and loss scaling by {@code scaler} (null: the trainer's choice for {@code dt}). */
    private Trainer.Result trainWith(Path run, TrainingConfig cfg, DType dt, LossScaler scaler, long stopAfter, LossHook hook) throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, dt, 1)) {
            EdmObjective edm = new EdmObjective(unet, ps, TrainerChild.data(), true, cfg.seed());
            Objective objective = new Objective() {
                public int size() { return edm.size(); }
                public Tensor loss(int[] items, long micro, boolean ckpt) throws IOException {
                    return hook.apply(micro, edm.loss(items, micro, ckpt));
                }
            };
            Trainer t = new Trainer(dir, objective, ps, Json.mapper().writeValueAsString(unet.config()), cfg);
            if (scaler != null) t.lossScaler(scaler);
            return t.run(listener(t, stopAfter, null));
        }
    }

    /**
     * fp32 and bf16 runs keep their files as before fp16 loss scaling: state.json without loss_scale, log lines with the
     * same fields, Adam's count equal to the run's steps. (Their bits were also compared once, by digests of a 3-step run
     * before and after the change; a pinned digest would break on any later numeric change, so it is not kept here.)
     */
    @Test
    void unscaledRunsKeepTheirFiles() throws Exception {
        for (DType dt : List.of(DType.F32, DType.BF16)) {
            Path run = tmp.resolve(dt.name());
            UNetSpatioTemporalConditionModel unet = TrainerChild.model();
            try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, dt, 1)) {
                Trainer.forUNet(dir, unet, ps, TrainerChild.data(), TrainerChild.config(3)).run(null);
            }
            Path ck = TrainingCheckpoint.latest(run);
            assertEquals(List.of("micro_step", "seed", "step"), fields(Json.mapper().readTree(ck.resolve("state.json").toFile())), dt.name());
            assertEquals("3", adamSteps(ck), dt.name());
            for (JsonNode line : log(run))
                assertEquals(List.of("clip", "clips_per_s", "elapsed_s", "grad_norm", "loss", "lr", "micro_step", "step"), fields(line), dt.name());
        }
    }

    private static List<String> fields(JsonNode n) {
        List<String> f = new ArrayList<>();
        n.fieldNames().forEachRemaining(f::add);
        Collections.sort(f);
        return f;
    }

    // ---- fp16 loss scaling ----------------------------------------------------------------------------

    private static final LossHook AS_IS = (micro, l) -> l;

    /**
     * Micro-step {@code at}'s loss with its value kept (l + c (l - l)) but its gradient 1e34 times larger: under a loss
     * scale of 2^16 the gradients overflow fp32 to inf, as an fp16 overflow makes them.
     */
    private static LossHook overflowAt(long at) {
        return (micro, l) -> micro == at ? F.add(l, F.scale(F.sub(l, F.detach(l)), 1e34)) : l;
    }

    private static List<JsonNode> log(Path run) throws Exception {
        List<JsonNode> l = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("log.jsonl"))) l.add(Json.mapper().readTree(line));
        return l;
    }

    /** Each step's log line less its timings (the rest must repeat exactly). */
    private static List<String> logSansTimes(Path run) throws Exception {
        return Files.readAllLines(run.resolve("log.jsonl")).stream().map(l -> l.replaceAll(",\"clips_per_s\".*", "")).toList();
    }

    private static JsonNode lossScale(Path ckpt) throws Exception {
        return Json.read(ckpt.resolve("state.json")).path("loss_scale");
    }

    private static String adamSteps(Path ckpt) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(ckpt.resolve("optimizer.safetensors"))) {
            return r.metadata().get("step");
        }
    }

    private Path checkpoint(Path run, long step) {
        return TrainingCheckpoint.checkpointsDir(run).resolve(TrainingCheckpoint.name(step));
    }

    /** Checkpoints every step, keeping them all; 2 micro-steps per step, EMA on. */
    private static TrainingConfig everyStep(long steps) {
        return new TrainingConfig(5, 1, 2, steps, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 1, 100);
    }

    /**
     * Power-of-two scaling is exact where nothing overflows: fp32 weights trained with the loss scaled by 2^16 (and the
     * gradients unscaled) end with the same bits, step by step the same losses and gradient norms, as without.
     */
    @Test
    void aScaledRunEqualsAnUnscaledOneWhereNothingOverflows() throws Exception {
        Path plain = tmp.resolve("plain"), scaled = tmp.resolve("scaled");
        trainWith(plain, everyStep(3), DType.F32, null, Long.MAX_VALUE, AS_IS);
        trainWith(scaled, everyStep(3), DType.F32, new LossScaler(), Long.MAX_VALUE, AS_IS);
        assertSameState(TrainingCheckpoint.latest(plain), TrainingCheckpoint.latest(scaled));
        List<JsonNode> a = log(plain), b = log(scaled);
        for (int i = 0; i < 3; i++) {
            for (String f : List.of("loss", "grad_norm", "clip")) assertEquals(a.get(i).get(f), b.get(i).get(f), "step " + (i + 1) + " " + f);
            assertEquals(65536, b.get(i).get("loss_scale").asDouble());
            assertFalse(a.get(i).has("loss_scale"), "unscaled runs log no scale");
        }
    }

    /**
     * Gradients that overflow (step 3's first micro-step) skip exactly that optimiser step: weights, Adam moments and
     * step count and EMA stay as after step 2, the scale halves, the step is logged as skipped with its loss, and the run
     * goes on to its last step (the skipped one counts toward steps).
     */
    @Test
    void anOverflowSkipsThatStepHalvesTheScaleAndTheRunGoesOn() throws Exception {
        Path ref = tmp.resolve("ref"), run = tmp.resolve("overflow");
        trainWith(ref, everyStep(5), DType.F32, new LossScaler(), Long.MAX_VALUE, AS_IS);
        Trainer.Result r = trainWith(run, everyStep(5), DType.F32, new LossScaler(), Long.MAX_VALUE, overflowAt(4));
        assertEquals(5, r.endStep());
        Path two = checkpoint(run, 2), three = checkpoint(run, 3);
        for (String k : KEYS) {
            double[] w = weights(two, "weights.safetensors", k), ema2 = weights(two, "ema.safetensors", k), ema3 = weights(three, "ema.safetensors", k);
            assertArrayEquals(w, weights(three, "weights.safetensors", k), k);
            for (String m : new String[]{"m.", "v."})
                assertArrayEquals(weights(two, "optimizer.safetensors", m + k), weights(three, "optimizer.safetensors", m + k), m + k);
            for (int i = 0; i < w.length; i++)   // as the reference's, the EMA moves toward the unchanged weights (decay 0.9)
                assertEquals(0.9 * ema2[i] + 0.1 * w[i], ema3[i], 1e-6 * Math.max(1, Math.abs(ema3[i])), "ema " + k + "[" + i + "]");
        }
        assertEquals("2", adamSteps(three));
        assertEquals("4", adamSteps(checkpoint(run, 5)), "Adam stepped in 4 of the 5 steps");
        assertEquals(65536, lossScale(two).get("scale").asDouble());
        assertEquals(2, lossScale(two).get("good_steps").asLong());
        assertEquals(32768, lossScale(three).get("scale").asDouble());
        assertEquals(0, lossScale(three).get("good_steps").asLong());
        List<JsonNode> log = log(run), refLog = log(ref);
        assertEquals(5, log.size());
        JsonNode skipped = log.get(2);
        assertTrue(skipped.path("skipped").asBoolean() && !skipped.has("grad_norm") && skipped.get("loss_scale").asDouble() == 32768, skipped.toString());
        assertEquals(refLog.get(2).get("loss"), skipped.get("loss"), "the skipped step's loss is logged");
        for (int i : new int[]{0, 1, 3, 4}) assertFalse(log.get(i).has("skipped"), log.get(i).toString());
        assertEquals(32768, log.get(4).get("loss_scale").asDouble());
    }

    /** Under loss scaling a non-finite loss (the forward overflowed or diverged) still stops the run, as without. */
    @Test
    void aNonFiniteLossStillStopsAScaledRun() {
        Adam.NonFiniteException e = assertThrows(Adam.NonFiniteException.class, () -> trainWith(tmp.resolve("nan"), everyStep(3), DType.F32, new LossScaler(),
                Long.MAX_VALUE, (micro, l) -> micro == 2 ? F.scale(l, Double.NaN) : l));
        assertTrue(e.getMessage().startsWith("training stopped: loss is NaN at micro-step 2"), e.getMessage());
    }

    /**
     * A non-finite loss right after a skipped step checkpoints that step as a stop there would: the halved scale, Adam's
     * count without the skipped step, the weights, moments and EMA after it (no checkpoint was due: the diverged path saves it).
     */
    @Test
    void aDivergenceRightAfterASkippedStepCheckpointsItAsAStopWould() throws Exception {
        TrainingConfig rare = new TrainingConfig(5, 1, 1, 5, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 100, 100);
        LossHook skipThenNaN = (micro, l) -> micro == 2 ? F.scale(l, Double.NaN) : overflowAt(1).apply(micro, l);
        Path diverged = tmp.resolve("diverged"), stopped = tmp.resolve("stopped");
        assertThrows(Adam.NonFiniteException.class, () -> trainWith(diverged, rare, DType.F32, new LossScaler(), Long.MAX_VALUE, skipThenNaN));
        assertEquals(2, trainWith(stopped, rare, DType.F32, new LossScaler(), 2, skipThenNaN).endStep());
        Path a = TrainingCheckpoint.latest(diverged), b = TrainingCheckpoint.latest(stopped);
        assertEquals(checkpoint(diverged, 2), a);
        assertSameState(a, b);
        assertEquals(Files.readString(b.resolve("state.json")), Files.readString(a.resolve("state.json")));
        assertEquals(32768, lossScale(a).get("scale").asDouble());
        assertEquals("1", adamSteps(a));
    }

    /**
     * The scale doubles after the growth interval's good steps in a row (2 here; torch's 2000 by default), and a skipped
     * step restarts the count: overflow in step 2, then 2 good steps before it doubles again.
     */
    @Test
    void theScaleGrowsAfterTheGrowthIntervalAndASkipRestartsTheCount() throws Exception {
        Path run = tmp.resolve("growth");
        TrainingConfig one = new TrainingConfig(5, 1, 1, 5, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        trainWith(run, one, DType.F32, new LossScaler(2), Long.MAX_VALUE, overflowAt(1));
        assertEquals(List.of(65536.0, 32768.0, 32768.0, 65536.0, 65536.0), log(run).stream().map(n -> n.get("loss_scale").asDouble()).toList());
        assertEquals(2000, LossScaler.GROWTH_INTERVAL);
        assertEquals(65536, new LossScaler().scale());
    }

    /**
     * A run stopped mid-interval with a changed scale (halved in step 2, one good step since) and resumed ends exactly as an
     * uninterrupted one: the same weights, moments, EMA, Adam step count, scale and log.
     */
    @Test
    void aResumedScaledRunEqualsAnUninterruptedOne() throws Exception {
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        trainWith(a, everyStep(6), DType.F32, new LossScaler(2), Long.MAX_VALUE, overflowAt(2));
        Trainer.Result first = trainWith(b, everyStep(6), DType.F32, new LossScaler(2), 3, overflowAt(2));
        assertEquals(3, first.endStep());
        assertEquals(32768, lossScale(checkpoint(b, 3)).get("scale").asDouble());
        assertEquals(1, lossScale(checkpoint(b, 3)).get("good_steps").asLong());
        trainWith(b, everyStep(6), DType.F32, new LossScaler(2), Long.MAX_VALUE, overflowAt(2));
        Path ea = TrainingCheckpoint.latest(a), eb = TrainingCheckpoint.latest(b);
        assertSameState(ea, eb);
        assertEquals(Files.readString(ea.resolve("state.json")), Files.readString(eb.resolve("state.json")));
        assertEquals(adamSteps(ea), adamSteps(eb));
        assertEquals(logSansTimes(a), logSansTimes(b));
        assertEquals(131072, lossScale(eb).get("scale").asDouble());
    }

    /**
     * fp16 weights train (fp32 masters, loss scaling) as bf16 ones do: overfitting one batch lowers the loss as much, with
     * no step skipped. The loss is scaled by 2^-14 so that the toy's activation gradients are as small as the full model's
     * (its loss averages some 10^5 times more elements): unscaled, many flush to zero in fp16 and the loss falls visibly
     * less (7.2e-5 to 4.1e-5 in 10 steps, against bf16's 3.1e-5, when tried).
     */
    @Test
    void fp16TrainingLowersTheLossLikeBf16() throws Exception {
        TrainingConfig c = new TrainingConfig(5, 1, 1, 10, 5e-3, false, 0, 1.0, 0, 0, false, "all", true, 100, 1);
        Map<DType, double[]> firstLast = new HashMap<>();
        for (DType dt : List.of(DType.BF16, DType.F16)) {
            Path run = tmp.resolve(dt.name());
            trainOneBatch(run, c, dt);
            List<JsonNode> log = log(run);
            firstLast.put(dt, new double[]{log.get(0).get("loss").asDouble(), log.get(9).get("loss").asDouble()});
            assertEquals(dt == DType.F16, log.get(0).has("loss_scale"), dt.name());
            assertTrue(log.stream().noneMatch(n -> n.has("skipped")), dt.name());
        }
        double[] bf16 = firstLast.get(DType.BF16), fp16 = firstLast.get(DType.F16);
        assertTrue(bf16[1] < 0.5 * bf16[0], "bf16 loss " + bf16[0] + " -> " + bf16[1]);
        assertTrue(fp16[1] < 0.5 * fp16[0], "fp16 loss " + fp16[0] + " -> " + fp16[1]);
        assertTrue(Math.abs(Math.log(fp16[1] / bf16[1])) < Math.log(1.1), "fp16 ends at " + fp16[1] + ", bf16 at " + bf16[1]);
    }

    /** Trains {@code c.steps()} steps of weights in {@code dt} on the same clip and noise every step, the loss times 2^-14. */
    private void trainOneBatch(Path run, TrainingConfig c, DType dt) throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, dt, 1)) {
            TrainingData one = new TrainingData() {
                public int size() { return 1; }
                public EdmLoss.Batch batch(int[] clips, long seed, long micro, Backend be, DType t) {
                    return TrainerChild.data().batch(clips, seed, 0, be, t);
                }
            };
            EdmLoss edm = new EdmLoss(unet, true);
            Objective same = new Objective() {
                public int size() { return 1; }
                public Tensor loss(int[] items, long micro, boolean ckpt) throws IOException {
                    return F.scale(edm.loss(one.batch(items, c.seed(), 0, CPU, dt), c.seed(), 0, ckpt), 0x1p-14);
                }
            };
            new Trainer(dir, same, ps, Json.mapper().writeValueAsString(unet.config()), c).run(null);
        }
    }

    /** Killed before its first checkpoint, a run starts over, and its log with it (each step logged once). */
    @Test
    void aRunKilledBeforeItsFirstCheckpointStartsItsLogOver() throws Exception {
        Path run = tmp.resolve("early");
        TrainingConfig every10 = new TrainingConfig(5, 1, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        trainWith(run, every10, Long.MAX_VALUE, -1);
        FileUtils.deleteDirectory(TrainingCheckpoint.checkpointsDir(run).toFile());   // as if killed before checkpointing
        Files.delete(run.resolve("latest"));
        trainWith(run, every10, Long.MAX_VALUE, -1);
        List<String> log = Files.readAllLines(run.resolve("log.jsonl"));
        assertEquals(2, log.size(), String.valueOf(log));
    }

    @Test
    void aRunDirectoryRefusesAnotherConfiguration() throws Exception {
        Path run = tmp.resolve("run");
        train(run, 1, Long.MAX_VALUE, null);
        assertThrows(IllegalArgumentException.class, () -> train(run, 2, Long.MAX_VALUE, null));
    }

    /** Found by fuzzing: bytes Jackson takes for UTF-32 failed as an I/O error (exit 1) naming no file. */
    @Test
    void aConfigJsonThatIsNoTextIsRefusedNamingIt() throws Exception {
        Path run = Files.createDirectories(tmp.resolve("garbled"));
        Files.write(run.resolve("config.json"), new byte[]{0, 0, 0, '{', 0x7f, -1, -1, -1});
        String msg = assertThrows(InputFileException.class, () -> train(run, 1, Long.MAX_VALUE, null)).getMessage();
        assertTrue(msg.startsWith(run.resolve("config.json") + ": not valid JSON (") && msg.endsWith("; it records the run's settings"), msg);
    }

    /** Found by fuzzing: a log line with bytes that are no UTF-8 failed the resumed run (MalformedInputException, exit 1, no file named). */
    @Test
    void aLogLineThatIsNoUtf8IsDroppedOnResume() throws Exception {
        Path run = tmp.resolve("bytes");
        train(run, 2, 1, null);
        Files.write(run.resolve("log.jsonl"), new byte[]{'{', (byte) 0xff, '}', '\n'}, StandardOpenOption.APPEND);
        assertEquals(1, LossPlot.read(run.resolve("log.jsonl")).size());
        train(run, 2, Long.MAX_VALUE, null);
        List<String> log = Files.readAllLines(run.resolve("log.jsonl"));
        assertEquals(2, log.size(), String.valueOf(log));
    }

    /** Writes cut short by a kill (a checkpoint's staging folder, a log rewrite) are removed by the next run of the directory. */
    @Test
    void aResumedRunRemovesCheckpointSavesAKillCutShort() throws Exception {
        Path run = tmp.resolve("staged");
        train(run, 3, 1, null);
        Path staged = Files.createDirectories(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000002.tmp-5eed"));
        Files.write(staged.resolve("weights.safetensors"), new byte[1000]);
        Path log = Files.write(run.resolve("log.jsonl.tmp-1eaf"), new byte[10]);
        Path halfPruned = Files.createDirectories(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000000"));   // a prune killed part way
        Files.write(halfPruned.resolve("weights.safetensors"), new byte[1000]);                                        // (state.json already gone)
        train(run, 3, Long.MAX_VALUE, null);
        assertFalse(Files.exists(staged) || Files.exists(log) || Files.exists(halfPruned));
        assertEquals(List.of("removed 2 unfinished writes (*.tmp-*) a killed run left in " + run), notes);
        assertEquals("step-00000003", TrainingCheckpoint.latest(run).getFileName().toString());
    }

    /**
     * A checkpoint whose file was cut short, or that holds another model's tensor, is refused by prepare (which a caller runs before
     * opening its progress bar), naming the file; it used to be found only as the run restored it.
     */
    @Test
    void prepareRefusesADamagedCheckpoint() throws Exception {
        Path run = tmp.resolve("damaged");
        train(run, 2, 1, null);
        Path optimizer = TrainingCheckpoint.latest(run).resolve("optimizer.safetensors");
        byte[] whole = Files.readAllBytes(optimizer);
        Files.write(optimizer, Arrays.copyOf(whole, whole.length - 4));
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            Trainer t = Trainer.forUNet(dir, unet, ps, TrainerChild.data(), TrainerChild.config(2));
            IOException cut = assertThrows(IOException.class, () -> t.prepare(n -> {}));
            assertTrue(cut.getMessage().startsWith(optimizer.toString()), cut.getMessage());
            Files.write(optimizer, whole);
            Path ema = optimizer.resolveSibling("ema.safetensors");
            Map<String, Tensor> one = Map.of("conv_in.weight", Tensor.zeros(CPU, DType.F32, 1));
            SafetensorsWriter.write(ema, Map.of(), one);
            IOException other = assertThrows(IOException.class, () -> t.prepare(n -> {}));
            assertTrue(other.getMessage().startsWith(ema + ": tensor conv_in.weight has another shape than the model's ([1], expected ["), other.getMessage());
        }
    }

    /**
     * A run that failed before its first checkpoint (here a NaN in its first micro-step; out of memory alike) left
     * config.json and a log line but nothing to resume: other settings start it over, replacing both.
     */
    @Test
    void aRunWithoutACheckpointStartsOverWithOtherSettings() throws Exception {
        Path run = tmp.resolve("failed");
        TrainingConfig first = new TrainingConfig(5, 1, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        assertThrows(Adam.NonFiniteException.class, () -> trainWith(run, first, Long.MAX_VALUE, 0));
        assertEquals(1, Files.readAllLines(run.resolve("log.jsonl")).size());
        TrainingConfig other = new TrainingConfig(5, 2, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        trainWith(run, other, Long.MAX_VALUE, -1);
        assertEquals(List.of(run + ": the earlier attempt there left no checkpoint; starting it over with these settings (training.batch_size 1 -> 2)"), notes);
        assertEquals(2, Json.read(run.resolve("config.json")).path("training").path("batch_size").asInt());
        List<String> log = Files.readAllLines(run.resolve("log.jsonl"));
        assertEquals(2, log.size(), String.valueOf(log));
        assertTrue(log.stream().noneMatch(l -> l.contains("error")), String.valueOf(log));
    }

    /** A batch larger than the training set (it would hold examples twice) is refused before anything is written: no run directory is left. */
    @Test
    void aBatchLargerThanTheTrainingSetIsRefusedUpFront() throws Exception {
        Path run = tmp.resolve("batch");
        TrainingConfig six = new TrainingConfig(5, 6, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> trainWith(run, six, Long.MAX_VALUE, -1));
        assertEquals("batch size 6 is larger than the 5 training examples", e.getMessage());
        assertNothingLeft(run);
    }

    /** A selection that matches no parameter (the VAE's "decoder" for a UNet) is refused before anything is written: no run directory is left. */
    @Test
    void aTrainableSelectionMatchingNothingIsRefusedUpFront() throws Exception {
        Path run = tmp.resolve("decoder");
        TrainingConfig decoder = new TrainingConfig(5, 1, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "decoder", true, 10, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> trainWith(run, decoder, Long.MAX_VALUE, -1));
        assertTrue(e.getMessage().startsWith("trainable 'decoder' selects none of the ") && e.getMessage().contains("parameters being trained (conv_in.weight, ...)"),
                e.getMessage());
        assertNothingLeft(run);
    }

    /** The run directory, created for the run, went again with nothing in it (RunDirectory removes what it made). */
    private static void assertNothingLeft(Path dir) {
        assertFalse(Files.exists(dir), "nothing left at " + dir);
    }

    @Test
    void sigkillMidRunThenResumeGivesTheSameFinalWeights() throws Exception {
        Path ref = tmp.resolve("ref"), killed = tmp.resolve("killed");
        train(ref, 8, Long.MAX_VALUE, null);

        // holding its run directory once trained: the second run below is refused by a live holder however long this
        // process takes to get there (a busy machine), not by one that may have finished its last steps meanwhile
        Process p = child(killed, 8, true);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline) {                            // wait for the third checkpoint
                Path latest = TrainingCheckpoint.latest(killed);
                if (latest != null && latest.getFileName().toString().compareTo("step-00000003") >= 0) break;
                if (!p.isAlive()) break;
                Thread.sleep(20);
            }
            assertTrue(p.isAlive(), () -> "the child ended before it could be killed; output: " + output(p));   // lazily: reading waits for the end
            InputFileException busy = assertThrows(InputFileException.class,
                    () -> train(killed, 8, Long.MAX_VALUE, null));                // a second run while the child trains there
            assertTrue(busy.getMessage().startsWith(killed + ": another train, train-vae or fit-image-encoder is writing there; wait for it to end"),
                    busy.getMessage());
        } finally {
            p.destroyForcibly();                                               // SIGKILL: no hook runs
            p.waitFor(30, TimeUnit.SECONDS);
        }
        Path atKill = TrainingCheckpoint.latest(killed);
        assertNotNull(atKill);
        for (String k : KEYS) weights(atKill, "weights.safetensors", k);   // the latest checkpoint is complete and readable

        Process resumed = child(killed, 8);
        assertTrue(resumed.waitFor(180, TimeUnit.SECONDS), "resumed run did not finish");
        assertEquals(0, resumed.exitValue(), () -> output(resumed));
        assertSameState(TrainingCheckpoint.latest(ref), TrainingCheckpoint.latest(killed));
        try (var left = Files.list(TrainingCheckpoint.checkpointsDir(killed))) {   // the newest 2, nothing a save cut short by the kill left
            assertEquals(List.of("step-00000007", "step-00000008"), left.map(c -> c.getFileName().toString()).sorted().toList());
        }
    }

    /**
     * A stop by signal (SIGTERM here; Ctrl-C's SIGINT runs the same hooks): the run checkpoints its last finished step and
     * exits 143, and its run directory is left unlocked, though the process would go on holding it after the run (the
     * child's "hold": as a command's lock closes only after its stop has let the JVM go, which left run.lock behind).
     */
    @Test
    void aSignalCheckpointsAndLeavesTheRunDirectoryUnlocked() throws Exception {
        Path run = tmp.resolve("interrupted");
        Process p = child(run, 100000, true);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (p.isAlive() && TrainingCheckpoint.latest(run) == null && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(p.isAlive() && TrainingCheckpoint.latest(run) != null, () -> "no checkpoint before the end: " + output(p));
            p.destroy();   // SIGTERM: the hooks of Ctrl-C (Signals)
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "still running two minutes after the signal");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(143, p.exitValue(), () -> output(p));
        assertFalse(Files.exists(run.resolve(RunDirectory.LOCK)), () -> output(p));
        assertTrue(TrainingCheckpoint.step(TrainingCheckpoint.latest(run)) >= 1);
        try (var left = Files.walk(run)) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().contains(".tmp-")).toList());
        }
    }

    private static String output(Process p) {
        try {
            return new String(p.getInputStream().readAllBytes());
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static Process child(Path run, long steps) throws Exception {
        return child(run, steps, false);
    }

    /** {@code hold}: once trained the child keeps the run directory until killed (see {@link TrainerChild}). */
    private static Process child(Path run, long steps, boolean hold) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"), TrainerChild.class.getName(), run.toString(),
                String.valueOf(steps)));
        if (hold) cmd.add("hold");
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }
}
