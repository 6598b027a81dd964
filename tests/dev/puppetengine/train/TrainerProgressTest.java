package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the loop reports for each optimiser step (the listener's Progress, log.jsonl's line, the Result) on a model whose
 * gradients are known without running it: the loss of micro-step m is W x_m + b for a Linear(2, 1), so its gradient is
 * (x_m, 1) whatever the weights, and a step's averaged gradient, norm and clip follow from the x_m alone.
 * x_m = (1 + m, 0.5 - m); 3 micro-steps per step of batches of 2 of the 2 items; --max-grad-norm 3 (step 1's norm 2.29 is
 * kept, the later ones are clipped); lr 0.1 warmed up over 4 steps. Each micro-step takes at least 2 ms, so that every step
 * has a measurable time.
 */
class TrainerProgressTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final int ACC = 3, BATCH = 2;

    @TempDir
    Path tmp;

    private static TrainingConfig config(long steps) {
        return new TrainingConfig(5, BATCH, ACC, steps, 0.1, false, 0, 3.0, 4, 0.5, false, "all", true, 3, 5);
    }

    private static double[] x(long micro) { return new double[]{1 + micro, 0.5 - micro}; }

    /** The averaged gradient's norm of optimiser step {@code step} (1-based): |(mean x, 1)|. */
    private static double norm(long step) {
        double x0 = 0, x1 = 0;
        for (long m = (step - 1) * ACC; m < step * ACC; m++) {
            x0 += x(m)[0] / ACC;
            x1 += x(m)[1] / ACC;
        }
        return Math.sqrt(x0 * x0 + x1 * x1 + 1);
    }

    private static double lr(long adamStep) { return 0.1 * Math.min(1.0, adamStep / 4.0); }

    /** One run of {@code cfg} in {@code run}; {@code hook} changes micro-step m's loss; the listener stops after {@code stopAfter}. */
    private final class Run {
        final List<Trainer.Progress> progress = new ArrayList<>();
        final List<Double> microLosses = new ArrayList<>();
        final List<String> items = new ArrayList<>();
        long wallMillis;
        final List<String> resumed = new ArrayList<>();
        Trainer.Result result;

        Run(Path run, TrainingConfig cfg, long stopAfter, LossScaler scaler, BiFunction<Long, Tensor, Tensor> hook) throws Exception {
            this(run, cfg, DType.F64, stopAfter, scaler, hook);
        }

        Run(Path run, TrainingConfig cfg, DType dtype, long stopAfter, LossScaler scaler, BiFunction<Long, Tensor, Tensor> hook) throws Exception {
            Linear lin = new Linear(2, 1, true);
            long t0 = System.currentTimeMillis();
            try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(lin, CPU, dtype, 3)) {
                Objective objective = new Objective() {
                    public int size() { return BATCH; }

                    public Tensor loss(int[] clips, long micro, boolean checkpointing) {
                        items.add(micro + ":" + Arrays.toString(clips));
                        try {
                            Thread.sleep(2);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                        Tensor l = F.to(F.mean(lin.forward(Tensor.of(CPU, dtype, new int[]{1, 2}, x(micro)))), DType.F64);
                        microLosses.add(l.item());
                        return hook.apply(micro, l);
                    }
                };
                Trainer t = new Trainer(dir, objective, ps, "{}", cfg);
                if (scaler != null) t.lossScaler(scaler);
                result = t.run(new Trainer.Listener() {
                    public void step(Trainer.Progress p) {
                        progress.add(p);
                        wallMillis = System.currentTimeMillis() - t0;
                        assertTrue(p.elapsedMillis() >= 2L * ACC && p.elapsedMillis() <= wallMillis, p.elapsedMillis() + " ms of " + wallMillis);
                        try {   // the step's line is written (flushed) before the listener hears of the step: a kill now keeps it
                            List<String> lines = Files.readAllLines(run.resolve("log.jsonl"));
                            assertEquals(p.step(), Json.mapper().readTree(lines.get(lines.size() - 1)).get("step").asLong(), String.valueOf(lines));
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                        if (p.step() >= stopAfter) t.requestStop();
                    }

                    public void resumed(Path checkpoint, long step) { resumed.add(checkpoint.getFileName() + " " + step); }
                });
            }
        }
    }

    private static List<String> checkpoints(Path run) throws Exception {
        try (Stream<Path> s = Files.list(TrainingCheckpoint.checkpointsDir(run))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** log.jsonl's line for a step that was not skipped, as the trainer formats it. */
    private static String line(Trainer.Progress p, long micro, double clip) {
        return String.format(Locale.ROOT, "{\"step\":%d,\"micro_step\":%d,\"loss\":%.6g,\"grad_norm\":%.6g,\"clip\":%.4g,\"lr\":%.6g,\"clips_per_s\":%.4g,\"elapsed_s\":%.1f}",
                p.step(), micro, p.loss(), p.gradNorm(), clip, p.lr(), p.clipsPerSecond(), p.elapsedMillis() / 1000.0);
    }

    /**
     * Each step's Progress: the mean of its micro-steps' losses, the averaged gradients' norm, the warmed-up lr, the clips per
     * second since the run (re)started; its log line (written before the listener is called); checkpoints every 3 steps and at
     * the last; the Result. Stopped after step 2 and resumed, the same: the stop checkpoints step 2, the resumed run says where it
     * resumed and counts its clips per second from there, and a stop asked at the last step is no stop by signal.
     */
    @Test
    void eachStepReportsItsMeanLossGradNormLrAndRate() throws Exception {
        Path whole = tmp.resolve("whole"), stopped = tmp.resolve("stopped"), atEnd = tmp.resolve("atEnd");
        Run a = new Run(whole, config(4), Long.MAX_VALUE, null, (m, l) -> l);
        assertEquals(new Trainer.Result(0, 4, false, TrainingCheckpoint.checkpointsDir(whole).resolve("step-00000004"), 0), a.result);
        assertEquals(List.of("step-00000003", "step-00000004"), checkpoints(whole), "every 3 steps and the last");
        assertEquals(List.of(), a.resumed);
        List<String> log = Files.readAllLines(whole.resolve("log.jsonl"));
        assertEquals(4, log.size());
        assertEquals(4 * ACC, a.microLosses.size());
        DataOrder order = new DataOrder(BATCH, 5);
        for (int m = 0; m < 4 * ACC; m++)   // micro-step m's batch: positions 2m and 2m + 1 of the seeded order
            assertEquals(m + ":[" + order.clipAt(2L * m) + ", " + order.clipAt(2L * m + 1) + "]", a.items.get(m));
        assertTrue(a.items.stream().anyMatch(i -> i.endsWith("[1, 0]")) && a.items.stream().anyMatch(i -> i.endsWith("[0, 1]")), "both orders: " + a.items);
        for (int i = 0; i < 4; i++) {
            Trainer.Progress p = a.progress.get(i);
            long step = i + 1;
            double sum = 0;
            for (int m = 0; m < ACC; m++) sum += a.microLosses.get(i * ACC + m);
            assertEquals(step, p.step());
            assertEquals(4, p.totalSteps());
            assertEquals(sum / ACC, p.loss(), "step " + step + ": the mean of its micro-steps' losses");
            assertEquals(norm(step), p.gradNorm(), 1e-12, "step " + step);
            assertEquals(lr(step), p.lr(), 1e-15, "step " + step);
            assertEquals(step * ACC * BATCH / (p.elapsedMillis() / 1000.0), p.clipsPerSecond(), 1e-9 * p.clipsPerSecond(), "step " + step);
            assertFalse(p.skipped());
            assertEquals(0, p.lossScale(), "0 without loss scaling");
            double clip = norm(step) > 3 ? 3 / (norm(step) + 1e-6) : 1.0;
            assertEquals(line(p, step * ACC, clip), log.get(i));
        }
        assertTrue(norm(1) < 3 && norm(2) > 3, "step 1 unclipped, step 2 clipped: " + norm(1) + ", " + norm(2));

        Run first = new Run(stopped, config(4), 2, null, (m, l) -> l);
        assertEquals(new Trainer.Result(0, 2, true, TrainingCheckpoint.checkpointsDir(stopped).resolve("step-00000002"), 0), first.result);
        assertEquals(List.of("step-00000002"), checkpoints(stopped), "a stop checkpoints the step it ends");
        Run second = new Run(stopped, config(4), Long.MAX_VALUE, null, (m, l) -> l);
        assertEquals(List.of("step-00000002 2"), second.resumed);
        assertEquals(new Trainer.Result(2, 4, false, TrainingCheckpoint.checkpointsDir(stopped).resolve("step-00000004"), 0), second.result);
        for (Trainer.Progress p : second.progress)   // the clips of this run only: (step - 2) steps of 3
            assertEquals((p.step() - 2) * ACC * BATCH / (p.elapsedMillis() / 1000.0), p.clipsPerSecond(), 1e-9 * p.clipsPerSecond(), "step " + p.step());
        assertEquals(a.progress.get(3).loss(), second.progress.get(1).loss(), "resumed, the same step 4");
        assertEquals(List.of(3L, 4L), second.progress.stream().map(Trainer.Progress::step).toList());

        Run last = new Run(atEnd, config(4), 4, null, (m, l) -> l);
        assertFalse(last.result.stoppedBySignal(), "a stop asked at the last step ends the run as it would have ended");
        assertEquals(4, last.result.endStep());
    }

    /**
     * A step whose scaled gradients overflow (micro-step 3, step 2, of a run with fp16 loss scaling) is reported skipped: the
     * halved scale, the lr the step would have used (Adam's count did not advance, so step 3 uses it too), no gradient norm in
     * its log line, and one skipped step in the Result.
     */
    @Test
    void aSkippedStepIsReportedAndCounted() throws Exception {
        Path run = tmp.resolve("skip");
        Run r = new Run(run, config(4), Long.MAX_VALUE, new LossScaler(), (m, l) -> m == 3 ? F.add(l, F.scale(F.sub(l, F.detach(l)), 1e305)) : l);
        assertEquals(1, r.result.skippedSteps());
        assertEquals(4, r.result.endStep());
        assertEquals(List.of(false, true, false, false), r.progress.stream().map(Trainer.Progress::skipped).toList());
        assertEquals(List.of(65536.0, 32768.0, 32768.0, 32768.0), r.progress.stream().map(Trainer.Progress::lossScale).toList());
        assertEquals(List.of(lr(1), lr(2), lr(2), lr(3)), r.progress.stream().map(Trainer.Progress::lr).toList(), "the skipped step does not count in Adam's warm-up");
        assertEquals(norm(1), r.progress.get(0).gradNorm(), 1e-12, "unscaled: the norm of the gradients Adam used");
        Trainer.Progress p = r.progress.get(1);
        assertEquals(String.format(Locale.ROOT, "{\"step\":2,\"micro_step\":6,\"loss\":%.6g,\"skipped\":true,\"lr\":%.6g,\"loss_scale\":32768,\"clips_per_s\":%.4g,\"elapsed_s\":%.1f}",
                p.loss(), p.lr(), p.clipsPerSecond(), p.elapsedMillis() / 1000.0), Files.readAllLines(run.resolve("log.jsonl")).get(1));
    }

    /**
     * A non-finite loss in the first micro-step: nothing to checkpoint, and the message says so; the log keeps the failure.
     * Gradients that are not finite in step 2 (without loss scaling): step 1, not due for a checkpoint, is checkpointed with the
     * micro-step counter of its end, and the message names it.
     */
    @Test
    void aDivergedRunSaysWhatItKept() throws Exception {
        Path early = tmp.resolve("early"), later = tmp.resolve("later");
        UnaryOperator<String> tail = m -> m.substring(m.indexOf(". Running"));
        DataOrder order = new DataOrder(BATCH, 5);
        String early0 = "[" + order.clipAt(0) + ", " + order.clipAt(1) + "]";
        Adam.NonFiniteException e = assertThrows(Adam.NonFiniteException.class,
                () -> new Run(early, config(4), Long.MAX_VALUE, null, (m, l) -> m == 0 ? F.scale(l, Double.NaN) : l));
        assertEquals("training stopped: loss is NaN at micro-step 0 (clips " + early0 + "), in optimiser step 1; nothing was trained yet", e.getMessage().substring(0, e.getMessage().indexOf(". Running")));
        assertEquals(". Running the same command again resumes there with the same draws and would stop the same way: the run diverged (a lower --lr or"
                + " --max-grad-norm, in a new --out, usually helps; the data and a resumed checkpoint are checked for non-finite values as they are read)", tail.apply(e.getMessage()));
        assertEquals(List.of("{\"step\":1,\"micro_step\":0,\"error\":\"loss is NaN at micro-step 0 (clips " + early0 + ")\"}"), Files.readAllLines(early.resolve("log.jsonl")));
        assertFalse(Files.exists(TrainingCheckpoint.checkpointsDir(early)) && checkpoints(early).size() > 0, "nothing checkpointed");

        e = assertThrows(Adam.NonFiniteException.class,
                () -> new Run(later, config(4), Long.MAX_VALUE, null, (m, l) -> m == 4 ? F.add(l, F.scale(F.sub(l, F.detach(l)), 1e308)) : l));
        Path one = TrainingCheckpoint.checkpointsDir(later).resolve("step-00000001");
        assertEquals("training stopped: gradient norm is Infinity, in optimiser step 2; the weights after step 1 are checkpointed in " + one,
                e.getMessage().substring(0, e.getMessage().indexOf(". Running")));
        assertEquals(List.of("step-00000001"), checkpoints(later));
        assertEquals(new TrainingCheckpoint.State(1, ACC, 5), Json.mapper().readValue(one.resolve("state.json").toFile(), TrainingCheckpoint.State.class),
                "the counters at the end of step 1");
        List<String> log = Files.readAllLines(later.resolve("log.jsonl"));
        assertEquals(2, log.size());
        assertEquals("{\"step\":2,\"micro_step\":3,\"error\":\"gradient norm is Infinity\"}", log.get(1));
    }

    /**
     * A bf16 run keeps fp32 master weights: its checkpoints hold them (F32), and a run stopped after step 2 and resumed sets the
     * model's bf16 copies from the restored masters before its first forward, so it logs the same losses and ends with the same
     * weights as one that never stopped (else step 3's forward ran on the initial weights). No EMA (ema_decay 0): no EMA file.
     */
    @Test
    void aResumedBf16RunRestoresItsMastersIntoTheModel() throws Exception {
        TrainingConfig cfg = new TrainingConfig(5, BATCH, ACC, 4, 0.1, false, 0, 3.0, 4, 0, false, "all", true, 3, 5);
        Path whole = tmp.resolve("whole"), stopped = tmp.resolve("stopped");
        Run a = new Run(whole, cfg, DType.BF16, Long.MAX_VALUE, null, (m, l) -> l);
        new Run(stopped, cfg, DType.BF16, 2, null, (m, l) -> l);
        Run b = new Run(stopped, cfg, DType.BF16, Long.MAX_VALUE, null, (m, l) -> l);
        assertEquals(a.progress.subList(2, 4).stream().map(Trainer.Progress::loss).toList(), b.progress.stream().map(Trainer.Progress::loss).toList());
        Path ca = TrainingCheckpoint.latest(whole), cb = TrainingCheckpoint.latest(stopped);
        assertEquals(ca.getFileName(), cb.getFileName());
        assertFalse(Files.exists(ca.resolve(TrainingCheckpoint.EMA)), "ema_decay 0: no EMA kept");
        try (SafetensorsReader ra = SafetensorsReader.open(ca.resolve(TrainingCheckpoint.WEIGHTS));
             SafetensorsReader rb = SafetensorsReader.open(cb.resolve(TrainingCheckpoint.WEIGHTS));
             Scope s = Scope.open()) {
            for (String k : List.of("weight", "bias")) {
                assertEquals(DType.F32, ra.entry(k).dtype(), "the fp32 master of " + k);
                assertArrayEquals(ra.load(k, CPU).toDoubleArray(), rb.load(k, CPU).toDoubleArray(), k);
            }
        }
    }
}
