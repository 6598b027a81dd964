package dev.puppetengine.train;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The checkpoint files themselves, without a model or a trainer: what is saved, what resuming restores, what is kept. */
class TrainingCheckpointTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final Adam.Settings SETTINGS = new Adam.Settings(0.1, 0.9, 0.999, 1e-8, 0, false, 1.0, 0);

    @TempDir
    Path run;

    private static Tensor leaf(double... v) {
        return Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{v.length}, v));
    }

    /** Weights a (2) and b (1), in this order. */
    private static Map<String, Tensor> weights(Tensor a, Tensor b) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("a", a);
        w.put("b", b);
        return w;
    }

    /** A checkpoint at {@code step} of weights (1, 2), (3) after one optimiser step and EMA update. */
    private Path saveOne(long step, int keep) throws Exception {
        Map<String, Tensor> w = weights(leaf(1, 2), leaf(3));
        try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
            stepOnce(w, adam, ema);
            return TrainingCheckpoint.save(run, new TrainingCheckpoint.State(step, 4 * step, 77), w, adam, ema, "{\"toy\":1}", keep);
        }
    }

    /** One optimiser step and EMA update of weights (a, b) with fixed gradients. */
    private static void stepOnce(Map<String, Tensor> w, Adam adam, Ema ema) {
        w.get("a").setGrad(Tensor.of(CPU, DType.F32, new int[]{2}, 0.5, -1));
        w.get("b").setGrad(Tensor.of(CPU, DType.F32, new int[]{1}, 2));
        adam.step(1);
        ema.update(w);
    }

    private List<String> checkpoints() throws Exception {
        try (Stream<Path> s = Files.list(TrainingCheckpoint.checkpointsDir(run))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void restoreGivesBackWeightsMomentsEmaAndCounters() throws Exception {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> w = weights(leaf(1, 2), leaf(3));
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                stepOnce(w, adam, ema);
                Path ck = TrainingCheckpoint.save(run, new TrainingCheckpoint.State(12, 48, 77), w, adam, ema, "{\"toy\":1}", 3);
                assertEquals(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000012"), ck);
                assertEquals("step-00000012\n", Files.readString(run.resolve("latest")));
                assertEquals(ck, TrainingCheckpoint.latest(run));
                try (SafetensorsReader r = SafetensorsReader.open(ck.resolve("weights.safetensors"))) {
                    assertEquals(Map.of("format", "puppet-engine-training", "model_config", "{\"toy\":1}"), r.metadata());
                }
                try (SafetensorsReader r = SafetensorsReader.open(ck.resolve("optimizer.safetensors"))) {
                    assertEquals(Map.of("format", "puppet-engine-optimizer", "step", "1"), r.metadata());
                }

                Map<String, Tensor> w2 = weights(leaf(0, 0), leaf(0));
                try (Adam adam2 = new Adam(w2, SETTINGS); Ema ema2 = new Ema(w2, 0.5)) {
                    assertEquals(new TrainingCheckpoint.State(12, 48, 77), TrainingCheckpoint.restore(ck, w2, adam2, ema2));
                    assertEquals(1, adam2.stepCount(), "Adam's own count (optimizer metadata), not the run's step: fp16 loss scaling skips steps");
                    for (String k : List.of("a", "b")) {
                        assertArrayEquals(w.get(k).toDoubleArray(), w2.get(k).toDoubleArray(), k);
                        assertArrayEquals(adam.firstMoments().get(k).toDoubleArray(), adam2.firstMoments().get(k).toDoubleArray(), "m." + k);
                        assertArrayEquals(adam.secondMoments().get(k).toDoubleArray(), adam2.secondMoments().get(k).toDoubleArray(), "v." + k);
                        assertArrayEquals(ema.weights().get(k).toDoubleArray(), ema2.weights().get(k).toDoubleArray(), "ema " + k);
                    }
                    assertFalse(Arrays.equals(w.get("a").toDoubleArray(), ema.weights().get("a").toDoubleArray()),
                            "the EMA differs from the weights, so restoring one for the other shows");
                    assertFalse(Arrays.equals(adam.firstMoments().get("a").toDoubleArray(), adam.secondMoments().get("a").toDoubleArray()));
                }
            }
        }
    }

    /** fp16 loss scaling's state goes in state.json and comes back; a run without scaling writes state.json as before. */
    @Test
    void theLossScaleIsSavedOnlyWhenScaling() throws Exception {
        try (Scope s = Scope.open()) {
            Path plain = saveOne(1, 3);
            List<String> fields = new ArrayList<>();
            Json.read(plain.resolve("state.json")).fieldNames().forEachRemaining(fields::add);
            assertEquals(List.of("step", "micro_step", "seed"), fields);
            Map<String, Tensor> w = weights(leaf(1, 2), leaf(3));
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                stepOnce(w, adam, ema);
                TrainingCheckpoint.State scaled = new TrainingCheckpoint.State(2, 8, 77, new LossScaler.State(32768, 5));
                Path ck = TrainingCheckpoint.save(run, scaled, w, adam, ema, "{\"toy\":1}", 3);
                assertEquals(scaled, TrainingCheckpoint.restore(ck, w, adam, ema));
                assertNull(TrainingCheckpoint.restore(plain, w, adam, ema).lossScale());
            }
        }
    }

    /**
     * Metadata keys in sorted order: written in Map.of's order, which changes from one JVM to the next, a run resumed after a
     * kill wrote checkpoints with the same tensors but other bytes than an uninterrupted one.
     */
    @Test
    void metadataIsWrittenInKeyOrder() throws Exception {
        try (Scope s = Scope.open()) {
            Path ck = saveOne(1, 1);
            for (String[] f : new String[][]{{"weights.safetensors", "model_config"}, {"ema.safetensors", "model_config"}, {"optimizer.safetensors", "step"}}) {
                ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(ck.resolve(f[0]))).order(ByteOrder.LITTLE_ENDIAN);
                String header = new String(b.array(), 8, (int) b.getLong(0), StandardCharsets.UTF_8);
                assertTrue(header.indexOf("\"format\"") < header.indexOf("\"" + f[1] + "\""), f[0] + ": " + header);
            }
        }
    }

    /** Without an EMA no ema.safetensors is written; exporting the EMA of such a checkpoint is refused naming why. */
    @Test
    void aRunWithoutEmaHasNoEmaFile() throws Exception {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> w = weights(leaf(1, 2), leaf(3));
            Path ck;
            try (Adam adam = new Adam(w, SETTINGS)) {
                ck = TrainingCheckpoint.save(run, new TrainingCheckpoint.State(1, 1, 5), w, adam, null, "{}", 1);
            }
            assertFalse(Files.exists(ck.resolve("ema.safetensors")));
            Linear lin = new Linear(1, 2, false);
            try (ParameterStore ps = ParameterStore.allocate(lin, CPU, DType.F32)) {
                InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.loadWeights(ck, true, ps));
                assertEquals(ck + " has no EMA weights (the run was trained with ema_decay 0)", e.getMessage());
            }
        }
    }

    /** Exporting loads the named parameters (converting dtype), the weights or the EMA ones, and leaves the others. */
    @Test
    void loadWeightsFillsTheSelectedParameters() throws Exception {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> w = new LinkedHashMap<>();
            w.put("weight", Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{2, 1}, 1, 2)));
            w.put("bias", leaf(3, 4));
            Path ck;
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                w.get("weight").copyFrom(new double[]{5, 6});
                ema.update(w);                                            // EMA weight (3, 4)
                ck = TrainingCheckpoint.save(run, new TrainingCheckpoint.State(1, 1, 5), w, adam, ema, "{}", 1);
            }
            try (ParameterStore ps = ParameterStore.allocate(new Linear(1, 2, false), CPU, DType.F64)) {
                TrainingCheckpoint.loadWeights(ck, false, ps);
                assertArrayEquals(new double[]{5, 6}, ps.parameters().get("weight").value().toDoubleArray());
                TrainingCheckpoint.loadWeights(ck, true, ps);
                assertArrayEquals(new double[]{3, 4}, ps.parameters().get("weight").value().toDoubleArray());
            }
            try (ParameterStore ps = ParameterStore.allocate(new Linear(1, 3, false), CPU, DType.F32)) {   // exporting into another model: refused before a read
                InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.loadWeights(ck, false, ps));
                assertEquals(ck.resolve("weights.safetensors") + ": tensor weight has another shape than the model's ([2, 1], expected [3, 1])", e.getMessage());
            }
            try (ParameterStore ps = ParameterStore.allocate(new Linear(1, 3, true), CPU, DType.F32)) {
                InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.loadWeights(ck, true, ps, k -> k.equals("bias")));
                assertEquals(ck.resolve("ema.safetensors") + ": tensor bias has another shape than the model's ([2], expected [3])", e.getMessage());
            }
            try (ParameterStore ps = ParameterStore.allocate(new Linear(1, 2, true), CPU, DType.F32)) {
                TrainingCheckpoint.loadWeights(ck, false, ps, k -> k.equals("bias"));
                assertArrayEquals(new double[]{0, 0}, ps.parameters().get("weight").value().toDoubleArray());
                assertArrayEquals(new double[]{3, 4}, ps.parameters().get("bias").value().toDoubleArray());
            }
        }
    }

    /** Only the newest {@code keep} complete checkpoints stay; a step-N a killed prune left without state.json goes too. */
    @Test
    void savesKeepTheNewestAndPointLatestAtTheLast() throws Exception {
        try (Scope s = Scope.open()) {
            saveOne(1, 2);
            saveOne(2, 2);
            assertEquals(List.of("step-00000001", "step-00000002"), checkpoints());
            Path halfPruned = Files.createDirectories(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000000"));
            Files.write(halfPruned.resolve("weights.safetensors"), new byte[10]);
            saveOne(3, 2);
            assertEquals(List.of("step-00000002", "step-00000003"), checkpoints());
            saveOne(10, 1);
            assertEquals(List.of("step-00000010"), checkpoints(), "sorted by step, not by the order of the directory listing");
            assertEquals("step-00000010\n", Files.readString(run.resolve("latest")));
        }
    }

    /** A second save at the same step (a stop right after a periodic save) keeps the checkpoint written first. */
    @Test
    void aSaveAtASavedStepKeepsTheFirst() throws Exception {
        try (Scope s = Scope.open()) {
            Path first = saveOne(5, 2);
            byte[] state = Files.readAllBytes(first.resolve("state.json"));
            Map<String, Tensor> w = weights(leaf(9, 9), leaf(9));
            try (Adam adam = new Adam(w, SETTINGS)) {
                assertEquals(first, TrainingCheckpoint.save(run, new TrainingCheckpoint.State(5, 99, 77), w, adam, null, "{}", 2));
            }
            assertArrayEquals(state, Files.readAllBytes(first.resolve("state.json")));
            assertTrue(Files.exists(first.resolve("ema.safetensors")));
        }
    }

    /**
     * A kill after step-4 was published but before "latest" named it: the resumed run (from step 2) reaches step 4 again, and
     * that save points "latest" at the step-4 kept on disk; "latest" left at step 2 made the run export step 2's weights.
     */
    @Test
    void aSaveAtAPublishedStepThatLatestMissedPointsLatestAtIt() throws Exception {
        try (Scope s = Scope.open()) {
            saveOne(2, 3);
            Path four = saveOne(4, 3);
            Files.writeString(run.resolve("latest"), "step-00000002\n");
            assertEquals(four, saveOne(4, 3));
            assertEquals("step-00000004\n", Files.readString(run.resolve("latest")));
            assertEquals(four, TrainingCheckpoint.latest(run));

            Files.delete(four.resolve("state.json"));   // half deleted by an older engine's prune: written again
            assertEquals(four, saveOne(4, 3));
            assertTrue(Files.isRegularFile(four.resolve("state.json")));
            assertEquals(four, TrainingCheckpoint.latest(run));
        }
    }

    /**
     * A run resumed from step 4 while a step-6 that "latest" never named is on disk: its save at step 5 keeps step 5 (which
     * "latest" names), not step 6 as the newest; step 6 is done again. Before, keep 1 deleted the checkpoint just saved.
     */
    @Test
    void aSaveKeepsItselfOverACheckpointPastItThatLatestNeverNamed() throws Exception {
        try (Scope s = Scope.open()) {
            saveOne(4, 3);
            saveOne(6, 3);
            Files.writeString(run.resolve("latest"), "step-00000004\n");
            Path five = saveOne(5, 1);
            assertEquals(List.of("step-00000005"), checkpoints());
            assertEquals(five, TrainingCheckpoint.latest(run));
        }
    }

    /** latest(): the pointer when it names a complete checkpoint, else the newest complete one, else null. */
    @Test
    void latestFallsBackToTheNewestCompleteCheckpoint() throws Exception {
        assertNull(TrainingCheckpoint.latest(run));
        try (Scope s = Scope.open()) {
            saveOne(1, 5);
            Path two = saveOne(2, 5);
            Path three = saveOne(3, 5);
            Files.writeString(run.resolve("latest"), "step-00000002\n");
            assertEquals(two, TrainingCheckpoint.latest(run), "the pointer wins");
            Files.delete(two.resolve("state.json"));
            assertEquals(three, TrainingCheckpoint.latest(run), "an incomplete checkpoint named by the pointer");
            Files.write(run.resolve("latest"), new byte[]{'s', 't', 'e', 'p', 0, '\n'});   // damaged (found by fuzzing): as no pointer
            assertEquals(three, TrainingCheckpoint.latest(run));
            Files.write(run.resolve("latest"), new byte[]{(byte) 0xff, (byte) 0xfe});
            assertEquals(three, TrainingCheckpoint.latest(run));
            Files.delete(three.resolve("state.json"));
            Files.delete(run.resolve("latest"));
            assertEquals(TrainingCheckpoint.checkpointsDir(run).resolve("step-00000001"), TrainingCheckpoint.latest(run), "no pointer");
        }
    }

    /** A "latest" naming a checkpoint out of the run's checkpoints/ ("../x", an absolute path) was resumed from, and exported. */
    @Test
    void latestNamesOnlyACheckpointOfTheRun() throws Exception {
        try (Scope s = Scope.open()) {
            Path one = saveOne(1, 5);
            Path outside = Files.move(saveOne(2, 5), run.resolve("step-00000002"));
            for (String pointer : new String[]{"../step-00000002", outside.toString()}) {
                Files.writeString(run.resolve("latest"), pointer + "\n");
                assertEquals(one, TrainingCheckpoint.latest(run), pointer);
            }
        }
    }

    /**
     * Values a resumed run cannot train from are refused naming the file, the tensor and the element: they were restored, the
     * first step turned the weights NaN, and the run saved those as its newest checkpoint.
     */
    @Test
    void nonFiniteValuesAndNegativeSecondMomentsAreRefused() throws Exception {
        try (Scope s = Scope.open()) {
            Path ck = saveOne(1, 1);
            Map<String, Tensor> w = weights(leaf(0, 0), leaf(0));
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                Path opt = ck.resolve("optimizer.safetensors");
                byte[] good = Files.readAllBytes(opt);
                Object[][] cases = {{"m.b", Double.NaN, "m.b holds a value that is not finite (element 0 of 1 is NaN)"},
                        {"v.a", -0.25, "v.a holds a value that is not finite and non-negative (a second moment) (element 1 of 2 is -0.25)"}};
                for (Object[] c : cases) {
                    Map<String, Tensor> moments = new LinkedHashMap<>(Map.of("m.a", leaf(1, 1), "m.b", leaf(1), "v.a", leaf(1, 1), "v.b", leaf(1)));
                    Tensor t = moments.get((String) c[0]);
                    double[] v = t.toDoubleArray();
                    v[v.length - 1] = (double) c[1];
                    moments.put((String) c[0], Tensor.of(CPU, DType.F32, t.shape(), v));
                    SafetensorsWriter.write(opt, Map.of("step", "1"), moments);   // Adam's count as saved: checked (header) before the values
                    InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                    assertEquals(opt + ": tensor " + c[2] + ": the checkpoint is damaged; remove it to resume from the one before", e.getMessage());
                }
                Files.write(opt, good);
                SafetensorsWriter.write(ck.resolve("ema.safetensors"), Map.of(), weights(leaf(1, Double.NEGATIVE_INFINITY), leaf(1)));
                InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                assertTrue(e.getMessage().startsWith(ck.resolve("ema.safetensors") + ": tensor a holds a value that is not finite (element 1 of 2 is -Infinity)"),
                        e.getMessage());
                SafetensorsWriter.write(ck.resolve("weights.safetensors"), Map.of(), Map.of("weight", Tensor.of(CPU, DType.BF16, new int[]{2, 1}, 0, Double.NaN)));
                try (ParameterStore ps = ParameterStore.allocate(new Linear(1, 2, false), CPU, DType.F32)) {   // exporting, from bf16
                    e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.loadWeights(ck, false, ps));
                    assertTrue(e.getMessage().startsWith(ck.resolve("weights.safetensors") + ": tensor weight holds a value that is not finite (element 1 of 2 is NaN)"),
                            e.getMessage());
                }
            }
        }
    }

    /** A damaged checkpoint is refused naming the file and what is wrong with it. */
    @Test
    void aDamagedCheckpointIsRefusedNamingTheProblem() throws Exception {
        try (Scope s = Scope.open()) {
            Path ck = saveOne(1, 1);
            Map<String, Tensor> w = weights(leaf(0, 0), leaf(0));
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                Map<String, Tensor> other = weights(leaf(0, 0), leaf(0));
                other.put("c", leaf(0));
                InputFileException missing = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, other, adam, ema));
                assertEquals(ck.resolve("weights.safetensors") + ": tensor c is missing (was the run started with another model or trainable set?)",
                        missing.getMessage());
                Map<String, Tensor> wide = weights(leaf(0, 0, 0), leaf(0));
                InputFileException shape = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, wide, adam, ema));
                assertEquals(ck.resolve("weights.safetensors") + ": tensor a has another shape than the model's ([2], expected [3])", shape.getMessage());

                Files.move(ck.resolve("ema.safetensors"), ck.resolve("ema.bak"));
                InputFileException noEma = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                assertEquals(ck.resolve("ema.safetensors") + " is missing: the checkpoint is incomplete; remove " + ck + " to resume from the checkpoint before it",
                        noEma.getMessage());
                for (String k : List.of("a", "b"))   // checked before anything is read: nothing restored
                    assertTrue(Arrays.stream(w.get(k).toDoubleArray()).allMatch(x -> x == 0) && Arrays.stream(adam.firstMoments().get(k).toDoubleArray()).allMatch(x -> x == 0), k);
                Files.move(ck.resolve("ema.bak"), ck.resolve("ema.safetensors"));
                TrainingCheckpoint.restore(ck, w, adam, ema);          // whole again
                byte[] weightsFile = Files.readAllBytes(ck.resolve("weights.safetensors"));   // cut short: what is wrong, and what to do
                Files.write(ck.resolve("weights.safetensors"), Arrays.copyOf(weightsFile, 20));
                String cut = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema)).getMessage();
                assertTrue(cut.startsWith(ck.resolve("weights.safetensors") + ": ") && cut.endsWith("; remove " + ck + " to resume from the checkpoint before it"), cut);
                Files.write(ck.resolve("weights.safetensors"), weightsFile);

                // found by fuzzing: "null" was a NullPointerException after the weights were copied, a negative step resumed silently
                byte[] good = Files.readAllBytes(ck.resolve("state.json"));
                for (String bad : new String[] {"null", "{\"step\": -5, \"micro_step\": 0, \"seed\": 1}", "{\"step\": 1, \"micro_step\": -1, \"seed\": 1}"}) {
                    Files.writeString(ck.resolve("state.json"), bad);
                    InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema), bad);
                    assertTrue(e.getMessage().startsWith(ck.resolve("state.json") + ": not a checkpoint state (expected step >= 1"), e.getMessage());
                }
                // found by fuzzing: a field left out read as 0 (micro_step 0 resumes on other data), bytes taken for UTF-32 failed naming no file
                for (String bad : new String[] {"{}", "{\"step\": 3, \"seed\": 1}", "{\"step\": 3, \"micro_step\": null, \"seed\": 1}", "\0\0\0{\u007f\u00ff"}) {
                    Files.write(ck.resolve("state.json"), bad.getBytes(StandardCharsets.ISO_8859_1));
                    InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema), bad);
                    assertTrue(e.getMessage().startsWith(ck.resolve("state.json") + ": not a checkpoint state (") && e.getMessage().lines().count() == 1, e.getMessage());
                }
                for (String bad : new String[] {"{\"scale\": 0, \"good_steps\": 0}", "{\"scale\": 65536, \"good_steps\": -1}", "{\"scale\": 65536}"}) {
                    Files.writeString(ck.resolve("state.json"), "{\"step\": 1, \"micro_step\": 4, \"seed\": 77, \"loss_scale\": " + bad + "}");
                    InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema), bad);
                    assertTrue(e.getMessage().startsWith(ck.resolve("state.json") + ": not a checkpoint state (") && e.getMessage().lines().count() == 1, e.getMessage());
                }
                // a state of another step than its folder's (edited, or copied from another checkpoint): resumed, it would skip or redo steps
                Files.writeString(ck.resolve("state.json"), new String(good, StandardCharsets.UTF_8).replaceFirst("\"step\" ?: ?1", "\"step\": 2"));
                assertEquals(ck.resolve("state.json") + ": step 2 in checkpoint step-00000001: the checkpoint is damaged; remove it to resume from the one before",
                        assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema)).getMessage());
                Files.write(ck.resolve("state.json"), good);

                byte[] optimizer = Files.readAllBytes(ck.resolve("optimizer.safetensors"));
                Map<String, Tensor> moments = Map.of("m.a", leaf(0, 0), "m.b", leaf(0), "v.a", leaf(0, 0), "v.b", leaf(0));
                for (Map<String, String> meta : List.of(Map.<String, String>of(), Map.of("step", "x"), Map.of("step", "2"), Map.of("step", "-1"))) {
                    SafetensorsWriter.write(ck.resolve("optimizer.safetensors"), meta, moments);
                    InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema), meta.toString());
                    assertTrue(e.getMessage().startsWith(ck.resolve("optimizer.safetensors") + ": its metadata's step (Adam's step count) is ")
                            && e.getMessage().endsWith(", expected 0 to 1: the checkpoint is damaged; remove it to resume from the one before"), e.getMessage());
                }
                SafetensorsWriter.write(ck.resolve("optimizer.safetensors"), Map.of(), moments);
                assertEquals(ck.resolve("optimizer.safetensors") + ": its metadata's step (Adam's step count) is missing, expected 0 to 1: the checkpoint is damaged;"
                        + " remove it to resume from the one before", assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema)).getMessage());
                Files.write(ck.resolve("optimizer.safetensors"), optimizer);

                SafetensorsWriter.write(ck.resolve("optimizer.safetensors"), Map.of(), Map.of("m.a", leaf(0, 0), "m.b", leaf(0)));
                InputFileException noV = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                assertEquals(ck.resolve("optimizer.safetensors") + ": tensor v.a is missing (was the run started with another model or trainable set?)",
                        noV.getMessage());

                Files.writeString(ck.resolve("state.json"), "{\"step\": ");
                InputFileException state = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                assertTrue(state.getMessage().startsWith(ck.resolve("state.json") + ": not a checkpoint state ("), state.getMessage());
                assertTrue(state.getMessage().endsWith("); remove this checkpoint to resume from the one before"), state.getMessage());
            }
        }
    }

    /**
     * The edges a real checkpoint can hold: Adam's count 0 (every step so far skipped by fp16 loss scaling) and a loss scale
     * with no good step since it last changed resume; a scale that reads as infinite (1e400) is refused as 0 is.
     */
    @Test
    void anAllSkippedScaledCheckpointResumesAndAnInfiniteScaleIsRefused() throws Exception {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> w = weights(leaf(1, 2), leaf(3));
            try (Adam adam = new Adam(w, SETTINGS); Ema ema = new Ema(w, 0.5)) {
                TrainingCheckpoint.State skipped = new TrainingCheckpoint.State(1, 2, 77, new LossScaler.State(32768, 0));
                Path ck = TrainingCheckpoint.save(run, skipped, w, adam, ema, "{}", 1);
                adam.setStepCount(5);
                assertEquals(skipped, TrainingCheckpoint.restore(ck, w, adam, ema));
                assertEquals(0, adam.stepCount());
                Files.writeString(ck.resolve("state.json"), "{\"step\": 1, \"micro_step\": 2, \"seed\": 77, \"loss_scale\": {\"scale\": 1e400, \"good_steps\": 0}}");
                InputFileException e = assertThrows(InputFileException.class, () -> TrainingCheckpoint.restore(ck, w, adam, ema));
                assertEquals(ck.resolve("state.json") + ": not a checkpoint state (expected a loss_scale scale that is finite and > 0 and good_steps >= 0, found Infinity and 0);"
                        + " remove this checkpoint to resume from the one before", e.getMessage());
            }
        }
    }
}
