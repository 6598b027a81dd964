package dev.puppetengine.train;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.io.safetensors.SafetensorsException;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.CharConversionException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Crash-safe training state. Each checkpoint is a directory checkpoints/step-NNNNNNNN/ holding the weights of
 * record (weights.safetensors: fp32 masters of trained low-precision tensors, other tensors as the model holds them),
 * the Adam moments (optimizer.safetensors), the EMA weights when kept (ema.safetensors) and state.json (counters). It is written under a temporary name, fsynced and renamed,
 * then "latest" is replaced atomically: a crash at any point leaves the previous checkpoint intact and never
 * a half-written one under a final name (the run's next start removes the temporary directory). Resuming restores
 * weights, moments, EMA and counters; data order and every random draw are functions of the counters.
 */
public final class TrainingCheckpoint {
    private TrainingCheckpoint() {}

    /**
     * The counters; {@code lossScale} only in runs with fp16 loss scaling (absent from the file otherwise, so other runs'
     * state.json is as before). {@code step} counts optimiser steps skipped by loss scaling too; Adam's own count (its
     * bias correction and warm-up) is in optimizer.safetensors' metadata.
     */
    public record State(@JsonProperty("step") long step, @JsonProperty("micro_step") long microStep, @JsonProperty("seed") long seed,
                        @JsonProperty("loss_scale") @JsonInclude(JsonInclude.Include.NON_NULL) LossScaler.State lossScale) {
        public State(long step, long microStep, long seed) { this(step, microStep, seed, null); }
    }

    static final String WEIGHTS = "weights.safetensors", OPTIMIZER = "optimizer.safetensors", EMA = "ema.safetensors", STATE = "state.json";

    public static Path checkpointsDir(Path run) { return run.resolve("checkpoints"); }

    /** A checkpoint's directory name: ASCII digits whatever the locale (%d writes Arabic-Indic ones in an Arabic locale, Devanagari in Marathi..., which {@link #list} does not match). */
    static String name(long step) { return String.format(Locale.ROOT, "step-%08d", step); }

    /** Writes the checkpoint of {@code state} and points "latest" at it; prunes to the newest {@code keep}. */
    public static Path save(Path run, State state, Map<String, Tensor> weights, Adam adam, Ema ema, String modelConfigJson, int keep) throws IOException {
        Path dir = checkpointsDir(run);
        Files.createDirectories(dir);
        Path target = dir.resolve(name(state.step()));
        // a step-N under its final name is whole (one rename published it), unless an older engine's prune left it half deleted
        if (Files.exists(target) && !Files.isRegularFile(target.resolve(STATE))) AtomicFile.removeDirectory(target);
        if (!Files.exists(target)) AtomicFile.publishDirectory(target, d -> {
            // sorted: Map.of's order changes from one JVM to the next, and with it a resumed run's checkpoint bytes
            Map<String, String> meta = new TreeMap<>(Map.of("format", "puppet-engine-training", "model_config", modelConfigJson));
            SafetensorsWriter.write(d.resolve(WEIGHTS), meta, weights);
            Map<String, Tensor> moments = new LinkedHashMap<>();
            adam.firstMoments().forEach((k, t) -> moments.put("m." + k, t));
            adam.secondMoments().forEach((k, t) -> moments.put("v." + k, t));
            SafetensorsWriter.write(d.resolve(OPTIMIZER), new TreeMap<>(Map.of("format", "puppet-engine-optimizer", "step", String.valueOf(adam.stepCount()))),
                    moments);
            if (ema != null) SafetensorsWriter.write(d.resolve(EMA), meta, ema.weights());
            AtomicFile.writeString(d.resolve(STATE), Json.mapper().writeValueAsString(state));
        });
        // also when step-N was saved already (kept as it is): a run killed after publishing it but before "latest" named it
        // resumes from the one before, and without this its export at the end would take that older checkpoint's weights
        AtomicFile.writeString(run.resolve("latest"), target.getFileName().toString() + "\n");
        prune(dir, target, keep);
        return target;
    }

    /**
     * Deletes all but the newest {@code keep} complete checkpoints up to {@code saved}, each renamed away first: a kill
     * part way through used to leave step-N without its state.json, which list() skips and so no later prune removed.
     * Such a step-N (from before) goes too, and so does one past {@code saved}: a run cut short before "latest" named it,
     * which this run is doing again (kept, it would outrank the one "latest" names and be kept in its place).
     */
    private static void prune(Path dir, Path saved, int keep) throws IOException {
        List<Path> complete = list(dir).stream().filter(p -> p.getFileName().compareTo(saved.getFileName()) <= 0).toList();   // names sort by step
        Set<Path> kept = new HashSet<>(complete.subList(Math.max(0, complete.size() - keep), complete.size()));
        List<Path> doomed;
        try (Stream<Path> s = Files.list(dir)) {
            doomed = s.filter(p -> isStep(p.getFileName().toString()) && !kept.contains(p)).toList();
        }
        for (Path p : doomed) AtomicFile.removeDirectory(p);
    }

    /** Complete checkpoints, oldest first (temporary directories of an interrupted save are ignored). */
    static List<Path> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> l = new ArrayList<>(s.filter(p -> isStep(p.getFileName().toString()) && Files.isRegularFile(p.resolve(STATE))).sorted().toList());
            return l;
        }
    }

    /** Whether {@code name} is a checkpoint's directory name, as {@link #name} makes it. */
    private static boolean isStep(String name) {
        return name.matches("step-\\d{8}");
    }

    /**
     * The checkpoint "latest" names when it is complete, else the newest complete one (a pointer that is damaged, not
     * UTF-8 or no checkpoint name, counts as absent), or null.
     */
    public static Path latest(Path run) throws IOException {
        Path pointer = run.resolve("latest");
        if (Files.isRegularFile(pointer)) {
            try {
                String name = Files.readString(pointer).trim();
                if (isStep(name)) {   // of this run's: not "../x" nor "/x" (nor a NUL, no path at all)
                    Path p = checkpointsDir(run).resolve(name);
                    if (Files.isRegularFile(p.resolve(STATE))) return p;
                }
            } catch (CharacterCodingException damaged) {
                // as a pointer to nothing: the listing below decides
            }
        }
        List<Path> all = list(checkpointsDir(run));
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** The optimiser step a checkpoint holds. */
    public static long step(Path ckpt) throws IOException {
        return state(ckpt).step();
    }

    /**
     * Checks a checkpoint without reading its tensors: its state.json, each file there and whole with every tensor
     * resuming reads at the shape it has here ({@code weights}: every weight by name; the moments of {@code trained};
     * the EMA weights when {@code ema}) and Adam's step count. {@link #restore} checks so first, and {@link Trainer#prepare}
     * does: a checkpoint of another model or trainable set, or a file cut short, is refused before a run opens its
     * progress bar. The values are checked as they are read.
     */
    public static State check(Path ckpt, Map<String, int[]> weights, Collection<String> trained, boolean ema) throws IOException {
        State st = state(ckpt);
        requireTensors(ckpt.resolve(WEIGHTS), weights);
        Map<String, int[]> moments = new LinkedHashMap<>();
        for (String prefix : new String[] {"m.", "v."})
            for (String k : trained) moments.put(prefix + k, Objects.requireNonNull(weights.get(k), k + ": a trained tensor that is not a weight"));
        requireTensors(ckpt.resolve(OPTIMIZER), moments);
        optimizerSteps(ckpt.resolve(OPTIMIZER), st.step());
        if (ema) requireTensors(ckpt.resolve(EMA), weights);
        return st;
    }

    /** Each tensor's shape by name, as {@link #check} takes them. */
    public static Map<String, int[]> shapes(Map<String, Tensor> tensors) {
        Map<String, int[]> m = new LinkedHashMap<>();
        tensors.forEach((k, t) -> m.put(k, t.shape()));
        return m;
    }

    /** Restores weights (into {@code weights}, converting dtype), moments, EMA, after {@link #check}ing the checkpoint; returns the counters. */
    public static State restore(Path ckpt, Map<String, Tensor> weights, Adam adam, Ema ema) throws IOException {
        State st = check(ckpt, shapes(weights), adam.firstMoments().keySet(), ema != null);
        // values checked: a NaN, or a negative second moment (its square root is NaN), turned the weights NaN in the first step;
        // the next save made them the newest checkpoint, and the NaN loss after it stopped the run blaming the learning rate or the data
        copyAll(ckpt.resolve(WEIGHTS), weights, false);
        Map<String, Tensor> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
        adam.firstMoments().forEach((k, t) -> m.put("m." + k, t));
        adam.secondMoments().forEach((k, t) -> v.put("v." + k, t));
        copyAll(ckpt.resolve(OPTIMIZER), m, false);
        copyAll(ckpt.resolve(OPTIMIZER), v, true);
        adam.setStepCount(optimizerSteps(ckpt.resolve(OPTIMIZER), st.step()));
        if (ema != null) copyAll(ckpt.resolve(EMA), ema.weights(), false);
        return st;
    }

    private static State state(Path ckpt) throws IOException {
        State st;
        try {
            // a field left out is refused, not read as 0 (a micro_step of 0 would resume on other data); CharConversionException: bytes that are no text
            st = Json.mapper().readerFor(State.class).with(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                    .readValue(Files.readAllBytes(ckpt.resolve(STATE)));
        } catch (JacksonException | CharConversionException e) {
            throw new InputFileException(ckpt.resolve(STATE) + ": not a checkpoint state (" + Json.oneLine(e) + "); remove this checkpoint to resume from the one before");
        }
        if (st == null || st.step() < 1 || st.microStep() < 0)   // "null" reads as no state; a step below 1 was never saved
            throw new InputFileException(ckpt.resolve(STATE) + ": not a checkpoint state (expected step >= 1 and micro_step >= 0, found "
                    + (st == null ? "null" : "step " + st.step() + ", micro_step " + st.microStep()) + "); remove this checkpoint to resume from the one before");
        LossScaler.State ls = st.lossScale();
        if (ls != null && !(ls.scale() > 0 && ls.scale() < Double.POSITIVE_INFINITY && ls.goodSteps() >= 0))
            throw new InputFileException(ckpt.resolve(STATE) + ": not a checkpoint state (expected a loss_scale scale that is finite and > 0 and good_steps >= 0, found "
                    + ls.scale() + " and " + ls.goodSteps() + "); remove this checkpoint to resume from the one before");
        String dir = ckpt.getFileName() == null ? "" : ckpt.getFileName().toString();
        if (isStep(dir) && !dir.equals(name(st.step())))   // an edited or misplaced state: resumed, it would skip or redo steps
            throw new InputFileException(ckpt.resolve(STATE) + ": step " + st.step() + " in checkpoint " + dir
                    + ": the checkpoint is damaged; remove it to resume from the one before");
        return st;
    }

    /**
     * Adam's step count, from the optimizer file's metadata (written there since the first engine): fewer than the
     * checkpoint's {@code step} by the steps fp16 loss scaling skipped.
     */
    private static long optimizerSteps(Path file, long step) throws IOException {
        String n;
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            n = r.metadata().get("step");
        }
        try {
            long count = Long.parseLong(String.valueOf(n));
            if (count >= 0 && count <= step) return count;
        } catch (NumberFormatException e) {
            // said below
        }
        throw new InputFileException(file + ": its metadata's step (Adam's step count) is " + (n == null ? "missing" : "'" + n + "'") + ", expected 0 to "
                + step + ": the checkpoint is damaged; remove it to resume from the one before");
    }

    /** Loads a checkpoint's weights (or its EMA weights) into a model's parameters, to export the trained model. */
    public static void loadWeights(Path ckpt, boolean ema, ParameterStore store) throws IOException {
        loadWeights(ckpt, ema, store, k -> true);
    }

    /** As above, only the parameters {@code which} names (e.g. the trained ones: frozen ones are saved in the model's own dtype). */
    public static void loadWeights(Path ckpt, boolean ema, ParameterStore store, Predicate<String> which)
            throws IOException {
        Path file = ckpt.resolve(ema ? EMA : WEIGHTS);
        if (ema && !Files.isRegularFile(file)) throw new InputFileException(ckpt + " has no EMA weights (the run was trained with ema_decay 0)");
        Map<String, Tensor> into = new LinkedHashMap<>();
        store.parameters().forEach((k, p) -> { if (which.test(k)) into.put(k, p.value()); });
        copyAll(file, into, false);
    }

    /** Refuses {@code file} unless it is there and holds each tensor of {@code shapes} at that shape (its header only is read). */
    private static void requireTensors(Path file, Map<String, int[]> shapes) throws IOException {
        try (SafetensorsReader r = openPart(file)) {
            for (Map.Entry<String, int[]> e : shapes.entrySet()) requireTensor(r, e.getKey(), e.getValue());
        }
    }

    private static SafetensorsReader openPart(Path file) throws IOException {
        String remove = "; remove " + file.toAbsolutePath().getParent() + " to resume from the checkpoint before it";
        if (!Files.isRegularFile(file)) throw new InputFileException(file + " is missing: the checkpoint is incomplete" + remove);
        try {
            return SafetensorsReader.open(file);
        } catch (SafetensorsException e) {   // cut short or garbled: what the message says, and what to do
            throw new InputFileException(e.getMessage() + remove, e);
        }
    }

    private static void requireTensor(SafetensorsReader r, String key, int[] shape) throws IOException {
        if (!r.contains(key)) throw new InputFileException(r.file() + ": tensor " + key + " is missing (was the run started with another model or trainable set?)");
        if (!Arrays.equals(r.entry(key).shape(), shape))
            throw new InputFileException(r.file() + ": tensor " + key + " has another shape than the model's (" + Arrays.toString(r.entry(key).shape())
                    + ", expected " + Arrays.toString(shape) + ")");
    }

    /** Loads every tensor of {@code into} from {@code file}, refusing one with a value that is NaN or infinite, or with {@code moments2} negative. */
    private static void copyAll(Path file, Map<String, Tensor> into, boolean moments2) throws IOException {
        try (SafetensorsReader r = openPart(file)) {
            for (Map.Entry<String, Tensor> e : into.entrySet()) {
                String key = e.getKey();
                requireTensor(r, key, e.getValue().shape());   // before the read: a wrong tensor's bytes are never read
                try (Scope s = Scope.open()) {
                    ByteBuffer stored = r.read(key);   // one read for the load and the check
                    Tensor t = r.load(key, stored, e.getValue().backend(), e.getValue().dtype());
                    String bad = moments2 ? TensorBytes.negativeOrNonFinite(stored, r.entry(key).dtype()) : TensorBytes.nonFinite(stored, r.entry(key).dtype());
                    if (bad != null)
                        throw new InputFileException(file + ": tensor " + key + " holds a value that is not " + (moments2 ? "finite and non-negative (a second moment)" : "finite")
                                + " (" + bad
                                + "): the checkpoint is damaged; remove it to resume from the one before");
                    e.getValue().backend().copyInto(t, e.getValue());
                }
            }
        }
    }
}
