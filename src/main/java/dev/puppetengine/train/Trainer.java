package dev.puppetengine.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The training loop (spec 4): per micro-step a batch in data order, the {@link Objective}'s loss, backward;
 * every {@code accumulation} micro-steps one Adam step (averaged, clipped), the EMA update, a line in
 * log.jsonl and, every {@code checkpoint_every} steps, a crash-safe checkpoint, in a {@link RunDirectory} the caller
 * holds. Checkpoint saves a kill cut short are removed first. A run directory that already has a checkpoint is resumed
 * exactly; one without starts over, with any settings. SIGINT/SIGTERM finish the current optimiser step, checkpoint,
 * stop. A loss or gradient norm that is not finite stops the run too (docs/MODEL.md: how the reference differs), after checkpointing
 * the last good step and logging what happened: see {@link #diverged}. fp16 weights train with dynamic loss scaling
 * ({@link LossScaler}): there gradients that are not finite skip the optimiser step instead (logged, the scale halved),
 * and the skipped step counts toward {@code steps}, as in the reference, whose loop counts batches whether or not the
 * scaler let the optimiser step.
 * The same loop fine-tunes the UNet ({@link EdmObjective}) and fits the toy VAE and image encoder.
 */
public final class Trainer {

    /** Progress after each optimiser step. */
    public interface Listener {
        void step(Progress p);

        /** The run continues from {@code checkpoint} (step {@code step}), after its settings and inputs were found the same. */
        default void resumed(Path checkpoint, long step) {}

        /** Something the run did to its directory before training (removed leftovers, started over), when {@link #run} prepared it. */
        default void note(String message) {}
    }

    /** {@code skipped}: fp16 loss scaling skipped the step (its gradients were not finite); {@code lossScale}: the scale after it, 0 without scaling. */
    public record Progress(long step, long totalSteps, double loss, double gradNorm, double lr, double clipsPerSecond, long elapsedMillis,
                           boolean skipped, double lossScale) {}

    /** {@code skippedSteps}: of this run's steps, those fp16 loss scaling skipped (their gradients overflowed). */
    public record Result(long startStep, long endStep, boolean stoppedBySignal, Path lastCheckpoint, long skippedSteps) {}

    private final Path run;
    private final Objective objective;
    private final ParameterStore store;
    private final String modelConfigJson;
    private final TrainingConfig cfg;
    private final AtomicBoolean stop = new AtomicBoolean();
    private JsonNode inputs;
    private LossScaler scaler;
    private Map<String, Tensor> trainable;   // set by prepare, taken by the next run (null: not prepared), with the checkpoint to resume (null: step 0)
    private Path resumeFrom;

    /**
     * {@code store}: the weights being trained, fp32, bf16, fp16 (with loss scaling) or fp64; {@code modelConfigJson}
     * identifies the model (saved, checked on resume).
     */
    public Trainer(RunDirectory run, Objective objective, ParameterStore store, String modelConfigJson, TrainingConfig cfg) {
        this.scaler = LossScaler.forWeights(store.dtype());
        this.run = run.path();
        this.objective = objective;
        this.store = store;
        this.modelConfigJson = modelConfigJson;
        this.cfg = cfg;
    }

    /** The UNet fine-tuning run on prepared clips. */
    public static Trainer forUNet(RunDirectory run, UNetSpatioTemporalConditionModel unet, ParameterStore store, TrainingData data, TrainingConfig cfg)
            throws IOException {
        return new Trainer(run, new EdmObjective(unet, store, data, cfg.applyCIn(), cfg.seed()), store,
                Json.mapper().writeValueAsString(unet.config()), cfg);
    }

    /**
     * Records what the run reads besides its settings (the starting model's files, the data) in config.json, so that
     * resuming it on other ones is refused as other settings are; a run begun before this was recorded resumes as it was.
     */
    public Trainer inputs(JsonNode inputs) {
        this.inputs = inputs;
        return this;
    }

    /** For tests: loss scaling with {@code s} (on fp32 weights too, or with a short growth interval). */
    Trainer lossScaler(LossScaler s) {
        this.scaler = s;
        return this;
    }

    /**
     * Asks the loop to stop (thread-safe): after the current optimiser step when it is asked between steps, else at the
     * step's next micro-step, dropping the step; either way the last finished step is checkpointed.
     */
    public void requestStop() { stop.set(true); }

    /**
     * Readies the run for {@link #run}: selects the trainable parameters, removes the unfinished writes a killed run left
     * in its directory and checks the settings and inputs against those it was begun with (refusing to resume a
     * checkpoint under others), telling {@code notes} what it did. Returns the step the run starts at: its latest
     * checkpoint's, else 0. {@link #run} calls it unless it was called since the last run: a caller with a progress bar
     * calls it first, so that a refusal comes before any bar and the bar starts at that step.
     */
    public long prepare(Consumer<String> notes) throws IOException {
        if (cfg.batchSize() > objective.size())   // each batch would hold some examples twice
            throw new IllegalArgumentException("batch size " + cfg.batchSize() + " is larger than the " + objective.size() + " training examples");
        Map<String, Tensor> selected = cfg.selectTrainable(store);
        Path checkpoints = TrainingCheckpoint.checkpointsDir(run);
        // no other run writes there (the directory is locked): checkpoint saves, log rewrites and model exports a kill cut short
        int leftovers = AtomicFile.removeLeftovers(checkpoints) + AtomicFile.removeLeftovers(run);
        if (leftovers > 0)
            notes.accept("removed " + leftovers + " unfinished write" + (leftovers == 1 ? "" : "s") + " (*.tmp-*) a killed run left in " + run);
        resumeFrom = TrainingCheckpoint.latest(run);
        checkConfig(modelConfigJson, resumeFrom != null, notes);
        if (resumeFrom != null) {   // its headers now, so that a refusal comes before a caller's bar (run reads the values)
            TrainingCheckpoint.check(resumeFrom, TrainingCheckpoint.shapes(values()), selected.keySet(), cfg.emaDecay() > 0);
        }
        trainable = selected;
        return resumeFrom == null ? 0 : TrainingCheckpoint.step(resumeFrom);
    }

    public Result run(Listener listener) throws IOException {
        if (this.trainable == null) prepare(listener == null ? note -> {} : listener::note);
        Map<String, Tensor> trainable = this.trainable;
        Path resumeFrom = this.resumeFrom;
        this.trainable = null;   // a preparation serves one run: a later one prepares again, resuming where this one ends
        Map<String, Tensor> all = values();
        try (Adam adam = new Adam(trainable, cfg.adam());
             Ema ema = cfg.emaDecay() > 0 ? new Ema(masters(all, null), cfg.emaDecay()) : null) {
            Map<String, Tensor> weights = masters(all, adam);
            long step = 0, micro = 0;
            if (resumeFrom != null) {
                TrainingCheckpoint.State st = TrainingCheckpoint.restore(resumeFrom, weights, adam, ema);
                syncLowPrecision(adam);
                step = st.step();
                micro = st.microStep();
                scaler.restore(st.lossScale());
                if (listener != null) listener.resumed(resumeFrom, step);
            }
            trimLog(run.resolve("log.jsonl"), step);   // a run killed after logging steps it had not checkpointed logs them again
            long start = step, saved = step, skipped = 0;
            DataOrder order = new DataOrder(objective.size(), cfg.seed());
            Path last = resumeFrom;
            long t0 = System.currentTimeMillis();
            Path logPath = run.resolve("log.jsonl");
            try (FileChannel logFile = FileChannel.open(logPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
                 Writer log = Channels.newWriter(logFile, StandardCharsets.UTF_8)) {
                while (step < cfg.steps() && !stop.get()) {
                    double lossSum = 0;
                    long stepMicro = micro;
                    Adam.StepResult r;
                    try {
                        for (int a = 0; a < cfg.accumulation(); a++, micro++) {
                            if (a > 0 && stop.get()) break;   // a stop mid-step drops the step (below)
                            int[] clips = new int[cfg.batchSize()];
                            for (int i = 0; i < clips.length; i++) clips[i] = order.clipAt(micro * cfg.batchSize() + i);
                            // the tape frees the graph that a throwing forward or a non-finite loss leaves unpropagated
                            try (Scope s = Scope.open(); Autograd.Tape t = Autograd.tape()) {
                                Tensor loss = objective.loss(clips, micro, cfg.gradientCheckpointing());
                                double l = loss.item();
                                if (!Double.isFinite(l))
                                    throw new Adam.NonFiniteException("loss is " + l + " at micro-step " + micro + " (clips " + Arrays.toString(clips) + ")");
                                Autograd.backward(scaler.scaled(loss));
                                lossSum += l;
                            }
                        }
                        if (micro - stepMicro < cfg.accumulation()) {
                            // Its remaining micro-steps (64 in the recipe, each minutes on a CPU at full size) could outlast the
                            // wait a signal is given: the step is dropped, the last finished one checkpointed, and a resume redoes
                            // it the same (its batches and draws follow from the micro-step's index).
                            adam.zeroGrad();
                            micro = stepMicro;
                            if (step > saved) {
                                logFile.force(false);
                                last = TrainingCheckpoint.save(run, state(step, micro), weights, adam, ema, modelConfigJson, cfg.keepCheckpoints());
                            }
                            break;
                        }
                        r = scaler.step(adam, cfg.accumulation());
                    } catch (Adam.NonFiniteException e) {
                        adam.zeroGrad();
                        if (step > saved)
                            last = TrainingCheckpoint.save(run, state(step, stepMicro), weights, adam, ema, modelConfigJson, cfg.keepCheckpoints());
                        append(log, logPath, "{\"step\":" + (step + 1) + ",\"micro_step\":" + stepMicro + ",\"error\":" + Json.mapper().writeValueAsString(e.getMessage()) + "}\n");
                        throw diverged(e, step, last);
                    }
                    step++;
                    if (r.skipped()) skipped++;
                    if (ema != null) ema.update(weights);   // a skipped step's too: the reference updates it every 64 micro-steps regardless
                    long elapsed = System.currentTimeMillis() - t0;
                    double clipsPerSecond = (step - start) * (double) cfg.accumulation() * cfg.batchSize() / Math.max(elapsed / 1000.0, 1e-9);
                    Progress p = new Progress(step, cfg.steps(), lossSum / cfg.accumulation(), r.gradNorm(), r.lr(), clipsPerSecond, elapsed, r.skipped(),
                            scaler.dynamic() ? scaler.scale() : 0);
                    // a skipped step has no gradient norm to log (JSON has no Infinity); loss_scale is the scale after the step
                    String outcome = r.skipped() ? "\"skipped\":true" : String.format(Locale.ROOT, "\"grad_norm\":%.6g,\"clip\":%.4g", r.gradNorm(), r.clipScale());
                    String scale = !scaler.dynamic() ? "" : "\"loss_scale\":" + BigDecimal.valueOf(scaler.scale()).stripTrailingZeros().toPlainString() + ",";
                    append(log, logPath, String.format(Locale.ROOT, "{\"step\":%d,\"micro_step\":%d,\"loss\":%.6g,%s,\"lr\":%.6g,%s\"clips_per_s\":%.4g,\"elapsed_s\":%.1f}%n",
                            step, micro, p.loss(), outcome, r.lr(), scale, clipsPerSecond, elapsed / 1000.0));
                    if (listener != null) listener.step(p);
                    if (step % cfg.checkpointEvery() == 0 || step == cfg.steps() || stop.get()) {
                        logFile.force(false);   // the steps a checkpoint holds stay logged through a power cut, not only a kill
                        last = TrainingCheckpoint.save(run, state(step, micro), weights, adam, ema, modelConfigJson, cfg.keepCheckpoints());
                        saved = step;
                    }
                }
            }
            return new Result(start, step, stop.get() && step < cfg.steps(), last, skipped);
        }
    }

    /** Appends a line to log.jsonl; a failure (a full disk) names the file. A torn line is dropped when the run resumes. */
    private static void append(Writer log, Path file, String line) throws IOException {
        try {
            log.write(line);
            log.flush();
        } catch (IOException e) {
            throw AtomicFile.naming(file, e);
        }
    }

    private TrainingCheckpoint.State state(long step, long micro) {
        return new TrainingCheckpoint.State(step, micro, cfg.seed(), scaler.state());
    }

    /**
     * Drops the log lines of steps after the checkpoint a run resumes from (written before a crash; the resumed run
     * writes them again), and lines a crash cut short, so each step is logged once.
     */
    private static void trimLog(Path log, long step) throws IOException {
        if (!Files.isRegularFile(log)) return;
        // decoded leniently: a line with bytes that are no UTF-8 is dropped as garbled (readAllLines would fail the whole run)
        List<String> lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList(), keep = new ArrayList<>();
        for (String line : lines) {
            try {
                if (Json.mapper().readTree(line).path("step").asLong(Long.MAX_VALUE) <= step) keep.add(line);
            } catch (IOException torn) {
                // dropped
            }
        }
        if (keep.size() < lines.size()) AtomicFile.writeString(log, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
    }

    /**
     * What stopped the run at optimiser step {@code step + 1}, what is kept (the weights are as after {@code step},
     * checkpointed unless nothing was trained yet) and what resuming would do: repeat the same draws, so the same failure.
     */
    private static Adam.NonFiniteException diverged(Adam.NonFiniteException e, long step, Path last) {
        Adam.NonFiniteException d = new Adam.NonFiniteException("training stopped: " + e.getMessage() + ", in optimiser step " + (step + 1)
                + (last == null ? "; nothing was trained yet" : "; the weights after step " + step + " are checkpointed in " + last)
                + ". Running the same command again resumes there with the same draws and would stop the same way: the run diverged"
                + " (a lower --lr or --max-grad-norm, in a new --out, usually helps; the data and a resumed checkpoint are checked for"
                + " non-finite values as they are read)");
        d.initCause(e);
        return d;
    }

    /** Every parameter's value by name. */
    private Map<String, Tensor> values() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        store.parameters().forEach((k, p) -> all.put(k, p.value()));
        return all;
    }

    /**
     * The fp32 weight of record per parameter: Adam's master for trainable low-precision parameters, else
     * the parameter tensor itself.
     */
    private static Map<String, Tensor> masters(Map<String, Tensor> all, Adam adam) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        all.forEach((k, t) -> m.put(k, adam != null && adam.masters().containsKey(k) ? adam.masters().get(k) : t));
        return m;
    }

    /** After restoring fp32 masters, the low-precision model copies must match them. */
    private static void syncLowPrecision(Adam adam) {
        adam.masters().forEach((k, master) -> {
            Tensor p = adam.parameters().get(k);
            if (p != master) p.backend().copyInto(master, p);
        });
    }

    /**
     * A run directory belongs to one configuration: refuse to resume it with another. Without a checkpoint there is
     * nothing to resume (the earlier attempt failed before its first one, e.g. out of memory): it starts over with these
     * settings, its log emptied by trimLog.
     */
    private void checkConfig(String modelJson, boolean resumable, Consumer<String> notes) throws IOException {
        Path file = run.resolve("config.json");
        Map<String, Object> settings = new LinkedHashMap<>();   // in this order, so the file's bytes are the same every time
        settings.put("training", cfg);
        settings.put("model", Json.mapper().readTree(modelJson));
        settings.put("random_streams", Streams.LAYOUT);          // a run resumed under another stream layout would draw otherwise
        if (inputs != null) settings.put("inputs", inputs);
        String mine = Json.mapper().writeValueAsString(settings);
        if (Files.isRegularFile(file)) {
            JsonNode saved;
            try {
                saved = Json.read(file);   // also bytes that are no text (not a JacksonException)
            } catch (InputFileException e) {
                throw new InputFileException(e.getMessage() + "; it records the run's settings", e);
            }
            JsonNode now = Json.mapper().readTree(mine);
            List<String> diff = new ArrayList<>();
            for (String part : new String[]{"training", "model", "inputs"}) {
                if (part.equals("inputs") && !saved.has(part)) continue;   // begun before inputs were recorded
                diff.addAll(Json.differences(part, saved.path(part), now.path(part)));
            }
            if (!now.path("random_streams").equals(saved.path("random_streams")))
                diff.add("random_streams " + (saved.has("random_streams") ? saved.get("random_streams") : "(absent: an engine before 2026-12-01)") + " -> "
                        + Streams.LAYOUT + " (the run's random draws would change)");
            // how often checkpoints are saved and how many are kept change nothing the run computes: taken on a resume
            List<String> storage = diff.stream().filter(d -> d.startsWith("training.checkpoint_every ") || d.startsWith("training.keep_checkpoints ")).toList();
            if (diff.size() == storage.size()) {
                if (storage.isEmpty()) return;
                notes.accept(run + ": taking " + String.join(", ", storage) + " (which checkpoints are saved and kept, not what the run computes)");
                AtomicFile.writeString(file, mine);
                return;
            }
            // only fields one side lacks (not the model's, whose optional ones a user's choice leaves out): another version
            // of the engine began the run, and "the same settings" cannot be given
            List<String> unrecorded = fieldsOf(diff.stream().filter(d -> d.matches("\\S+ \\(absent[:)].*"))),
                    unknown = fieldsOf(diff.stream().filter(d -> d.endsWith(" -> (absent)")));
            if (resumable && unrecorded.size() + unknown.size() == diff.size() && diff.stream().noneMatch(d -> d.startsWith("model"))) {
                List<String> which = new ArrayList<>();
                if (!unrecorded.isEmpty()) which.add("did not record " + String.join(", ", unrecorded));
                if (!unknown.isEmpty()) which.add("recorded " + String.join(", ", unknown) + ", unknown to this one");
                throw new IllegalArgumentException(file + ": this run directory was begun by " + (unknown.isEmpty() ? "an earlier engine" : "another version of the engine")
                        + ", which " + String.join(" and ", which) + ": resuming it could not be checked to go on as it began; use a new --out directory");
            }
            if (resumable)
                throw new IllegalArgumentException(file + ": this run directory was started with other settings or inputs (" + String.join(", ", diff)
                        + "); use a new --out directory or the same settings and inputs");
            notes.accept(run + ": the earlier attempt there left no checkpoint; starting it over with these settings (" + String.join(", ", diff) + ")");
        }
        AtomicFile.writeString(file, mine);
    }

    /** The field paths of {@link Json#differences} entries ("path was -> now"). */
    private static List<String> fieldsOf(Stream<String> differences) {
        return differences.map(d -> d.substring(0, d.indexOf(' '))).toList();
    }

    /**
     * Makes SIGINT/SIGTERM stop the run cleanly, as {@link #requestStop} does, the last finished step checkpointed before
     * the JVM exits (waiting up to {@code maxWaitSeconds}); {@code notes} hears at once what the stop will do (the
     * micro-step under way, minutes on a CPU at full size, ends first). Close the result when {@link #run} has returned.
     */
    public GracefulStop stopOnSignal(long maxWaitSeconds, Consumer<String> notes) {
        return GracefulStop.onSignal(() -> {
            notes.accept("stopping: after the micro-step under way (a step not finished is dropped, redone on resume), then checkpointing");
            requestStop();
        }, maxWaitSeconds);
    }
}
