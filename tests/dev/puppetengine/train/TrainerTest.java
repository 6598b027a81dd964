package dev.puppetengine.train;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    @Test
    void overfittingOneBatchLowersTheLoss() throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            TrainingConfig c = new TrainingConfig(5, 1, 1, 30, 2e-3, false, 0, 1.0, 0, 0, false, "all", true, 100, 1);
            TrainingData one = new TrainingData() {          // the same clip and noise level every step
                public int size() { return 1; }
                public EdmLoss.Batch batch(int[] clips, long seed, long micro, dev.puppetengine.backend.Backend be, DType dt) {
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
                        dev.puppetengine.autograd.Autograd.backward(l);
                    }
                    adam.step(1);
                }
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
        }
    }

    private static java.util.Map<String, Tensor> trainable(ParameterStore ps) {
        java.util.Map<String, Tensor> m = new java.util.LinkedHashMap<>();
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
        Files.writeString(b.resolve("log.jsonl"), "{\"step\":4,\"micro_step\":8,\"loss\":0.5}\n{\"step\":5,\"lo", java.nio.file.StandardOpenOption.APPEND);
        Trainer.Result second = train(b, 6, Long.MAX_VALUE, lb);
        assertEquals(3, second.startStep());
        assertEquals(6, second.endStep());
        assertEquals(la, lb, "the same losses step by step");
        List<Long> logged = new ArrayList<>();
        for (String line : Files.readAllLines(b.resolve("log.jsonl"))) logged.add(dev.puppetengine.io.Json.mapper().readTree(line).get("step").asLong());
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
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> trainWith(tmp.resolve("failed"), cfg, Long.MAX_VALUE, (micro, loss) -> {
            if (micro == 1) throw new java.io.IOException("simulated failure after the forward");
            return loss;
        }));
        assertEquals("simulated failure after the forward", e.getMessage());
        assertEquals(before, CPU.bytesInUse());
    }

    /** What a test does to micro-step {@code micro}'s loss before the trainer sees it. */
    private interface LossHook {
        Tensor apply(long micro, Tensor loss) throws java.io.IOException;
    }

    /** Trains {@code run} with {@code cfg}, stopping after step {@code stopAfter}; micro-step {@code nanAt} (if >= 0) gives a NaN loss. */
    private void trainWith(Path run, TrainingConfig cfg, long stopAfter, long nanAt) throws Exception {
        trainWith(run, cfg, stopAfter, (micro, l) -> micro == nanAt ? dev.puppetengine.autograd.F.scale(l, Double.NaN) : l);
    }

    private void trainWith(Path run, TrainingConfig cfg, long stopAfter, LossHook hook) throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 1)) {
            EdmObjective edm = new EdmObjective(unet, ps, TrainerChild.data(), true, cfg.seed());
            Objective objective = new Objective() {
                public int size() { return edm.size(); }
                public Tensor loss(int[] items, long micro, boolean ckpt) throws java.io.IOException {
                    return hook.apply(micro, edm.loss(items, micro, ckpt));
                }
            };
            Trainer t = new Trainer(dir, objective, ps, dev.puppetengine.io.Json.mapper().writeValueAsString(unet.config()), cfg);
            t.run(listener(t, stopAfter, null));
        }
    }

    /** fp16 weights are refused by the API as by the CLI: without loss scaling their small gradients underflow to zero. */
    @Test
    void fp16WeightsAreRefused() throws Exception {
        UNetSpatioTemporalConditionModel unet = TrainerChild.model();
        try (RunDirectory dir = RunDirectory.lock(tmp.resolve("fp16")); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F16, 1)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> Trainer.forUNet(dir, unet, ps, TrainerChild.data(), TrainerChild.config(1))).getMessage();
            assertTrue(msg.contains("loss scaling") && msg.contains("bf16"), msg);
        }
    }

    /** Killed before its first checkpoint, a run starts over, and its log with it (each step logged once). */
    @Test
    void aRunKilledBeforeItsFirstCheckpointStartsItsLogOver() throws Exception {
        Path run = tmp.resolve("early");
        TrainingConfig every10 = new TrainingConfig(5, 1, 1, 2, 1e-3, false, 0, 1.0, 0, 0, false, "all", true, 10, 2);
        trainWith(run, every10, Long.MAX_VALUE, -1);
        org.apache.commons.io.FileUtils.deleteDirectory(TrainingCheckpoint.checkpointsDir(run).toFile());   // as if killed before checkpointing
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
        String msg = assertThrows(dev.puppetengine.io.InputFileException.class, () -> train(run, 1, Long.MAX_VALUE, null)).getMessage();
        assertTrue(msg.startsWith(run.resolve("config.json") + ": not valid JSON (") && msg.endsWith("; it records the run's settings"), msg);
    }

    /** Found by fuzzing: a log line with bytes that are no UTF-8 failed the resumed run (MalformedInputException, exit 1, no file named). */
    @Test
    void aLogLineThatIsNoUtf8IsDroppedOnResume() throws Exception {
        Path run = tmp.resolve("bytes");
        train(run, 2, 1, null);
        Files.write(run.resolve("log.jsonl"), new byte[]{'{', (byte) 0xff, '}', '\n'}, java.nio.file.StandardOpenOption.APPEND);
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
        assertEquals(2, dev.puppetengine.io.Json.read(run.resolve("config.json")).path("training").path("batch_size").asInt());
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

        Process p = child(killed, 8);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {                            // wait for the third checkpoint
            Path latest = TrainingCheckpoint.latest(killed);
            if (latest != null && latest.getFileName().toString().compareTo("step-00000003") >= 0) break;
            if (!p.isAlive()) break;
            Thread.sleep(20);
        }
        assertTrue(p.isAlive(), () -> "the child finished before it could be killed; output: " + output(p));   // lazily: reading waits for the end
        dev.puppetengine.io.InputFileException busy = assertThrows(dev.puppetengine.io.InputFileException.class,
                () -> train(killed, 8, Long.MAX_VALUE, null));                // a second run while the child trains there
        assertTrue(busy.getMessage().startsWith(killed + ": another train, train-vae or fit-image-encoder is writing there; wait for it to end"),
                busy.getMessage());
        p.destroyForcibly();                                               // SIGKILL: no hook runs
        p.waitFor(30, TimeUnit.SECONDS);
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

    private static String output(Process p) {
        try {
            return new String(p.getInputStream().readAllBytes());
        } catch (java.io.IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static Process child(Path run, long steps) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"), TrainerChild.class.getName(), run.toString(),
                String.valueOf(steps)).redirectErrorStream(true).start();
    }
}
