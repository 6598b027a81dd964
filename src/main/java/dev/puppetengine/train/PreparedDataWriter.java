package dev.puppetengine.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.LatentDistribution;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;
import org.apache.commons.io.file.PathUtils;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;

import static dev.puppetengine.train.PreparedData.CANDIDATES;
import static dev.puppetengine.train.PreparedData.CANDIDATE_COUNT;
import static dev.puppetengine.train.PreparedData.DRAGS;
import static dev.puppetengine.train.PreparedData.EMBEDDING;
import static dev.puppetengine.train.PreparedData.MEAN;
import static dev.puppetengine.train.PreparedData.STATICS;
import static dev.puppetengine.train.PreparedData.STATIC_COUNT;
import static dev.puppetengine.train.PreparedData.STD;

/**
 * prepare: encodes every clip of a dataset with the model's VAE (each frame's posterior) and image encoder (frame 0)
 * into {@code OUT/prepared.safetensors} ({@link PreparedData}'s format), one clip at a time in constant memory, and
 * resumably. Each clip's rows are appended to one raw F32 file per tensor in {@code OUT/prepare-work/}; every
 * {@code commitMillis} the files are fsynced and {@code progress.json} records their lengths. A prepare stopped for
 * any reason continues from its last commit when started again for the same dataset and encoders (asked to stop,
 * by {@link #requestStop} or a signal under {@link #stopOnSignal}, it commits first). At the end the
 * file is assembled inside the work folder (for a while the set is on disk twice), renamed into OUT, and the work
 * folder renamed to {@code prepare-work.done} and deleted, so a crash at any point leaves either the work to finish or
 * a folder the next open removes. {@code prepare-work.lock} keeps a second prepare out of OUT meanwhile.
 */
public final class PreparedDataWriter implements AutoCloseable {
    public static final String WORK = "prepare-work";
    static final String PROGRESS = "progress.json", DONE = WORK + ".done", LOCK = WORK + ".lock";
    /** The metadata key of the settings a finished file was prepared with (the same JSON as progress.json's identity). */
    static final String IDENTITY = "identity";
    private static final String[] PARTS = {MEAN, STD, EMBEDDING, DRAGS, CANDIDATES, CANDIDATE_COUNT, STATICS, STATIC_COUNT};
    private static final long COMMIT_MILLIS = 10_000;
    private static final int COPY_CHUNK = 8 << 20;

    private final Path out, work;
    private final ClipDataset data;
    private final double scalingFactor;
    private final Backend backend;
    private final DType dtype;
    private final ObjectNode identity;
    private final Map<String, String> weights;
    private final long commitMillis;
    private int done, outside, height, width, channels, embeddingDim;
    private final Map<String, Long> lengths = new LinkedHashMap<>();
    private LockFile lock;
    private final AtomicBoolean stop = new AtomicBoolean();
    private boolean stopped, finished;

    private PreparedDataWriter(Path out, ClipDataset data, double scalingFactor, Backend backend, DType dtype, ObjectNode identity,
                               Map<String, String> weights, long commitMillis) {
        this.out = out;
        this.work = out.resolve(WORK);
        this.data = data;
        this.scalingFactor = scalingFactor;
        this.backend = backend;
        this.dtype = dtype;
        this.identity = identity;
        this.weights = Map.copyOf(weights);
        this.commitMillis = commitMillis;
        for (String p : PARTS) lengths.put(p, 0L);
    }

    /**
     * Opens {@code out} for encoding {@code data} on {@code backend} in {@code dtype} with a VAE of {@code scalingFactor};
     * {@code weights} identifies the encoders' weights (their checksums), so that an unfinished prepare found in
     * {@code out} is only continued with the same weights, dtype, scaling factor and dataset. Nothing here needs the
     * encoders themselves: a prepare already {@link #finished}, or refused, is known before they are loaded.
     */
    public static PreparedDataWriter open(Path out, ClipDataset data, double scalingFactor, Backend backend, DType dtype,
                                          Map<String, String> weights) throws IOException {
        return open(out, data, scalingFactor, backend, dtype, weights, COMMIT_MILLIS);
    }

    static PreparedDataWriter open(Path out, ClipDataset data, double scalingFactor, Backend backend, DType dtype, Map<String, String> weights,
                                   long commitMillis) throws IOException {
        if (data.count() == 0) throw new IllegalArgumentException(data.root() + ": the dataset has no clips");
        ObjectNode id = Json.mapper().createObjectNode();
        id.put("format_version", PreparedData.VERSION);
        id.put("dataset", data.root().toRealPath().toString());   // one spelling of the folder: through a symbolic link too
        id.put("clips", data.count());
        id.put("train_count", data.trainCount());
        id.put("frames", data.frames());
        id.put("width", data.width());
        id.put("height", data.height());
        id.put("generator", data.manifest().generator());
        id.put("seed", data.manifest().seed());
        id.set("parameters", data.manifest().parameters());
        id.put("dtype", dtype.name());
        id.put("scaling_factor", String.valueOf(scalingFactor));
        new TreeMap<>(weights).forEach(id::put);
        PreparedDataWriter w = new PreparedDataWriter(out, data, scalingFactor, backend, dtype, (ObjectNode) Json.asRead(id), weights, commitMillis);
        try {
            w.lock = LockFile.acquire(out.resolve(LOCK), out + ": another prepare is writing there; wait for it to end or choose another --out");
            if (Files.exists(w.out.resolve(DONE))) PathUtils.deleteDirectory(w.out.resolve(DONE));   // a finished prepare whose clean-up was cut short
            boolean resumed = w.resume();
            if (Files.isRegularFile(w.out.resolve(PreparedData.FILE))) w.checkFinished(w.out.resolve(PreparedData.FILE), resumed);
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    /** Releases OUT to other prepares. */
    @Override
    public void close() throws IOException {
        if (lock != null) lock.close();
    }

    /** Clips encoded so far: by earlier, unfinished runs when opened (0 for a fresh start), then by this one too. */
    public int done() { return done; }

    /** Asks {@link #run} to commit after the current clip and return without assembling (thread-safe). */
    public void requestStop() { stop.set(true); }

    /** Makes SIGINT/SIGTERM commit the clips encoded so far before the JVM exits; close the result when run returns. */
    public GracefulStop stopOnSignal(long maxWaitSeconds) {
        return GracefulStop.onSignal(this::requestStop, maxWaitSeconds);
    }

    /** Whether the last {@link #run} was stopped by {@link #requestStop} (its clips committed, the file not yet written). */
    public boolean stopped() { return stopped; }

    /** Whether this OUT holds an earlier prepare of the same settings that finished: then {@link #run} has nothing to do. */
    public boolean finished() { return finished; }

    /**
     * A prepared file already in OUT: the same settings are finished (nothing to do; an unfinished prepare of them
     * beside it is one whose clean-up was cut short after the file was moved into OUT, and is removed); others are
     * refused, even with an unfinished prepare of this run's settings beside it, since replacing the file would change
     * what training runs begun on it read.
     */
    private void checkFinished(Path file, boolean resumed) throws IOException {
        String recorded;
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            recorded = r.metadata().get(IDENTITY);
        }
        if (recorded == null)
            throw new InputFileException(file + ": a finished prepare whose settings were not recorded (an engine before 2026-12-04):"
                    + " remove it to prepare again, or choose another --out");
        JsonNode was = Json.mapper().readTree(recorded);
        if (!identity.equals(was))
            throw new InputFileException(file + " holds a finished prepare of other settings (" + String.join(", ", Json.differences("", was, identity))
                    + "): remove it to prepare again, or choose another --out");
        if (resumed) {
            AtomicFile.rename(work, out.resolve(DONE));
            PathUtils.deleteDirectory(out.resolve(DONE));
        }
        finished = true;
    }

    /** Continues what the last commit in the work folder recorded; false when there is none (then it starts over). */
    private boolean resume() throws IOException {
        Path file = work.resolve(PROGRESS);
        if (!Files.isRegularFile(file)) {   // nothing committed: start over
            if (Files.exists(work)) PathUtils.deleteDirectory(work);
            return false;
        }
        try (var stale = Files.newDirectoryStream(work, PreparedData.FILE + "*")) {   // an assembly cut short: as large as the set
            for (Path f : stale) Files.delete(f);
        }
        JsonNode p = Json.read(file);
        if (!identity.equals(p.path("identity")) && !sameButForTheDatasetsSpelling(p.path("identity")))
            throw new InputFileException(work + " holds an unfinished prepare of other settings (" + String.join(", ", Json.differences("", p.path("identity"), identity))
                    + "): run that prepare again to finish it, or remove " + work + " to start over");
        done = Json.intAtLeast(p, "clips_done", 0, file);
        if (done > data.count())
            throw new InputFileException(file + ": field 'clips_done' is " + done + ", more than the dataset's " + data.count() + " clips; remove " + work
                    + " to start over");
        outside = Json.intAtLeast(p, "outside", 0, file);
        height = Json.intAtLeast(p, "latent_height", 0, file);
        width = Json.intAtLeast(p, "latent_width", 0, file);
        channels = Json.intAtLeast(p, "latent_channels", 0, file);
        embeddingDim = Json.intAtLeast(p, "embedding_dim", 0, file);
        JsonNode bytes = Json.field(p, "bytes", file);
        for (String part : PARTS) {
            long n = Json.integer(bytes, part, 0, file);
            Path f = work.resolve(part);
            if (!Files.isRegularFile(f) || Files.size(f) < n)
                throw new InputFileException(f + ": " + (Files.isRegularFile(f) ? Files.size(f) + " bytes" : "missing") + ", but " + file
                        + " committed " + n + "; remove " + work + " to start over");
            lengths.put(part, n);
        }
        return true;
    }

    /**
     * Whether {@code saved} is this identity but for the dataset written as another path to the same folder: engines
     * before 2026-12-04 recorded it as given (through a symbolic link too), this one by its real path, and the same
     * command would be refused as "other settings". The progress this run records gives the real path.
     */
    private boolean sameButForTheDatasetsSpelling(JsonNode saved) {
        if (!saved.isObject() || !saved.path("dataset").isTextual()) return false;
        try {
            if (!Path.of(saved.path("dataset").asText()).toRealPath().toString().equals(identity.path("dataset").asText())) return false;
        } catch (IOException | InvalidPathException gone) {
            return false;
        }
        ObjectNode respelled = ((ObjectNode) saved).deepCopy();
        respelled.set("dataset", identity.get("dataset"));
        return identity.equals(respelled);
    }

    /**
     * Encodes the clips not yet done with {@code vae} (of the scaling factor opened with) and {@code clip}, then writes
     * prepared.safetensors; {@code progress} gets the number of clips done after each. Candidate tracks that leave the
     * image (the drag tensor cannot hold them) are left out; returns how many, over the whole prepare (0, doing
     * nothing, when {@link #finished}).
     */
    public int run(AutoencoderKLTemporalDecoder vae, ClipVisionModelWithProjection clip, IntConsumer progress) throws IOException {
        if (lock == null) throw new IllegalStateException("prepare writer not open");
        if (vae.scalingFactor() != scalingFactor)
            throw new IllegalArgumentException("a VAE of scaling factor " + vae.scalingFactor() + ", but this prepare was opened for " + scalingFactor);
        if (finished) return 0;
        Files.createDirectories(work);
        Map<String, FileChannel> parts = new LinkedHashMap<>();
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (String p : PARTS) {
                FileChannel ch = FileChannel.open(work.resolve(p), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                parts.put(p, ch);
                ch.truncate(lengths.get(p)).position(lengths.get(p));   // drops what was written after the last commit
            }
            long lastCommit = System.nanoTime(), commitNanos = TimeUnit.MILLISECONDS.toNanos(commitMillis);   // monotonic: not the wall clock
            for (int i = done; i < data.count() && !stop.get(); i++) {
                encode(i, parts, vae, clip);
                done = i + 1;
                if (done == data.count() || System.nanoTime() - lastCommit >= commitNanos) {
                    commit(parts);
                    lastCommit = System.nanoTime();
                }
                if (progress != null) progress.accept(done);
            }
            stopped = done < data.count();
            if (stopped) commit(parts);   // asked to stop: keep every clip encoded, assemble another time
        } finally {
            closeAll(parts.values());
        }
        if (stopped) return outside;
        Path assembled = work.resolve(PreparedData.FILE);
        assemble(assembled);
        AtomicFile.rename(assembled, out.resolve(PreparedData.FILE));
        AtomicFile.rename(work, out.resolve(DONE));   // from here on a crash leaves only a folder to delete
        PathUtils.deleteDirectory(out.resolve(DONE));
        return outside;
    }

    private static void closeAll(Iterable<FileChannel> channels) throws IOException {
        IOException first = null;
        for (FileChannel ch : channels)
            try {
                ch.close();
            } catch (IOException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        if (first != null) throw first;
    }

    /** Appends clip i's rows to the parts. */
    private void encode(int i, Map<String, FileChannel> parts, AutoencoderKLTemporalDecoder vae, ClipVisionModelWithProjection clip) throws IOException {
        int frames = data.frames();
        try (Scope s = Scope.open()) {
            ClipSample c = data.read(i);
            List<RgbImage> imgs = new ArrayList<>();
            for (int f = 0; f < frames; f++) imgs.add(c.frame(f));
            // the VAE's encoder is per frame, so frames go one at a time: memory is one frame's activations, not a clip's
            // (all 14 of a 256 x 256 clip at once took more than an 8 GB heap with the full VAE on the CPU)
            float[] mean = null, std = null;
            for (int f = 0; f < frames; f++) {
                try (Scope part = Scope.open()) {
                    LatentDistribution post = vae.encode(F.to(ImageTensors.toTensor(backend, imgs.subList(f, f + 1)), dtype));   // (1, h, w, 4) each
                    float[] m = post.mean().toFloatArray(), sd = F.unary(UnaryOp.EXP, F.scale(post.logvar(), 0.5)).toFloatArray();
                    if (mean == null) {
                        int[] l = post.mean().shape();
                        if (height == 0) {
                            height = l[1];
                            width = l[2];
                            channels = l[3];
                        }
                        mean = new float[frames * m.length];
                        std = new float[mean.length];
                    }
                    System.arraycopy(m, 0, mean, f * m.length, m.length);
                    System.arraycopy(sd, 0, std, f * sd.length, sd.length);
                }
            }
            Tensor e = clip.embed(F.to(ClipPreprocess.toTensor(backend, imgs.get(0), clip.config().imageSize()), dtype));
            if (embeddingDim == 0) embeddingDim = e.size(1);
            float[] emb = e.toFloatArray();
            requireFinite(i, MEAN, mean);
            requireFinite(i, STD, std);
            requireFinite(i, EMBEDDING, emb);
            append(parts, MEAN, mean);
            append(parts, STD, std);
            append(parts, EMBEDDING, emb);
            append(parts, DRAGS, c.dragTensor());
            List<double[]> moving = c.drags().candidates().stream().filter(t -> PreparedData.inside(t, data.width(), data.height())).toList(),
                    fixed = c.drags().staticCandidates().stream().filter(t -> PreparedData.inside(t, data.width(), data.height())).toList();
            outside += c.drags().candidates().size() - moving.size() + c.drags().staticCandidates().size() - fixed.size();
            append(parts, CANDIDATES, floats(moving));
            append(parts, CANDIDATE_COUNT, new float[]{moving.size()});
            append(parts, STATICS, floats(fixed));
            append(parts, STATIC_COUNT, new float[]{fixed.size()});
        }
    }

    /**
     * Refuses an encoder output of clip i that holds a NaN or an infinity: written, it would stop training far later with a
     * NaN loss. Nothing of the clip is written; the clips before it stay (resumable).
     */
    private void requireFinite(int i, String part, float[] v) {
        String bad = TensorBytes.nonFinite(f32(v), DType.F32);
        if (bad != null)
            throw new IllegalArgumentException(ClipDataset.clipDir(data.root(), i) + ": its " + part + " from the model's encoders is not finite (" + bad
                    + "): the encoders' weights are not finite, or a 16-bit --dtype overflowed (try bf16 or fp32)");
    }

    /** A failure (a full disk) names the part's file; what was written after the last commit is dropped on resuming. */
    private void append(Map<String, FileChannel> parts, String part, float[] v) throws IOException {
        try {
            AtomicFile.writeFully(parts.get(part), f32(v));
        } catch (IOException e) {
            throw AtomicFile.naming(work.resolve(part), e);
        }
    }

    private static ByteBuffer f32(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }

    private static float[] floats(List<double[]> tracks) {
        float[] f = new float[tracks.stream().mapToInt(t -> t.length).sum()];
        int at = 0;
        for (double[] t : tracks)
            for (double x : t) f[at++] = (float) x;
        return f;
    }

    /** Makes the parts' bytes durable, then records their lengths: what a later run continues from. */
    private void commit(Map<String, FileChannel> parts) throws IOException {
        for (Map.Entry<String, FileChannel> e : parts.entrySet()) {
            e.getValue().force(false);
            lengths.put(e.getKey(), e.getValue().position());
        }
        ObjectNode p = Json.mapper().createObjectNode();
        p.set("identity", identity);
        p.put("clips_done", done);
        p.put("outside", outside);
        p.put("latent_height", height);
        p.put("latent_width", width);
        p.put("latent_channels", channels);
        p.put("embedding_dim", embeddingDim);
        ObjectNode bytes = p.putObject("bytes");
        lengths.forEach(bytes::put);
        AtomicFile.writeString(work.resolve(PROGRESS), Json.mapper().writeValueAsString(p));
    }

    /** prepared.safetensors from the committed parts, each copied a chunk at a time. */
    private void assemble(Path file) throws IOException {
        int n = data.count(), frames = data.frames();
        long trackBytes = 2L * frames * Float.BYTES;
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put(MEAN, new int[]{n, frames, height, width, channels});
        shapes.put(STD, new int[]{n, frames, height, width, channels});
        shapes.put(EMBEDDING, new int[]{n, 1, embeddingDim});
        shapes.put(DRAGS, new int[]{n, frames, DragTensor.SLOTS, 4});
        shapes.put(CANDIDATES, new int[]{Math.toIntExact(lengths.get(CANDIDATES) / trackBytes), frames, 2});
        shapes.put(CANDIDATE_COUNT, new int[]{n});
        shapes.put(STATICS, new int[]{Math.toIntExact(lengths.get(STATICS) / trackBytes), frames, 2});
        shapes.put(STATIC_COUNT, new int[]{n});
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        shapes.forEach((name, shape) -> items.add(new SafetensorsWriter.Item(name, DType.F32, shape, sink -> copy(work.resolve(name), lengths.get(name), sink))));
        Map<String, String> meta = new TreeMap<>(Map.of("format", PreparedData.FORMAT, "version", PreparedData.VERSION,   // sorted: same bytes every run
                "train_count", String.valueOf(data.trainCount()), "clips", String.valueOf(n), "scaling_factor", identity.path("scaling_factor").asText(),
                "image_width", String.valueOf(data.width()), "image_height", String.valueOf(data.height()),
                "static_drag_probability", String.valueOf(data.manifest().parameters().path("static_drag_probability").asDouble(0)),
                "dataset", identity.path("dataset").asText(), "dtype", identity.path("dtype").asText()));
        weights.forEach(meta::put);   // the encoders' checksums: train compares them with its model's
        meta.put(IDENTITY, Json.mapper().writeValueAsString(identity));   // a later prepare into OUT compares its settings with them
        SafetensorsWriter.write(file, meta, items);
    }

    private static void copy(Path part, long length, SafetensorsWriter.Sink sink) throws IOException {
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(COPY_CHUNK, Math.max(length, 1)));
            for (long at = 0; at < length; ) {
                b.clear().limit((int) Math.min(b.capacity(), length - at));
                while (b.hasRemaining())
                    if (ch.read(b, at + b.position()) < 0) throw new EOFException(part + ": ends at byte " + (at + b.position()) + ", " + length + " committed");
                at += b.position();
                sink.put(b.flip());
            }
        }
    }
}
