package dev.puppetengine.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.DragSelection;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Clips with their VAE posteriors and CLIP embeddings precomputed (spec 4.5, 4.6), so training never runs the frozen
 * encoders; written by {@link PreparedDataWriter}. One safetensors file, all F32: latent_mean and latent_std
 * (N, F, h, w, 4), each frame's VAE posterior, unscaled; embedding (N, 1, X) of frame 0; drags (N, F, 5, 4), the clip's
 * own drag tensor; candidates (T, F, 2) and static_candidates (S, F, 2), the tracked points (pixels) drags are chosen
 * from, clip after clip, with candidate_count and static_count (N) the tracks of each clip. The first
 * {@code train_count} clips are the training split.
 *
 * <p>Each batch draws what the reference's loader draws per item: latents = (mean + std N(0, 1)) x scaling factor,
 * cond_latent = frame 0's mean unscaled, and drags chosen afresh from the candidates by {@link DragSelection} (a
 * clip without candidates keeps its own drags). The draws are functions of (seed, micro-step, position in the
 * batch), so a resumed run draws what an uninterrupted one does. Only the batch's rows are read from the file; what
 * stays in memory is two offsets per clip, so a set may be far larger than memory.
 */
public final class PreparedData implements TrainingData, AutoCloseable {
    public static final String FILE = "prepared.safetensors";
    static final String FORMAT = "puppet-engine-prepared", VERSION = "3";
    static final String MEAN = "latent_mean", STD = "latent_std", EMBEDDING = "embedding", DRAGS = "drags",
            CANDIDATES = "candidates", CANDIDATE_COUNT = "candidate_count", STATICS = "static_candidates", STATIC_COUNT = "static_count";
    /** Tracks checked per read when the file is opened. */
    private static final int SCAN_ROWS = 1 << 16;

    private final Path file;
    private final SafetensorsReader reader;
    private final int clips, frames, trainCount, width, height, latentHeight, latentWidth, channels, embeddingDim;
    private final long[] candidateStart, staticStart;   // clip i's tracks are rows [start[i], start[i + 1])
    private final double scalingFactor, staticProbability;
    private final Map<String, String> meta;

    private PreparedData(Path file, SafetensorsReader r) throws IOException {
        this.file = file;
        this.reader = r;
        this.meta = r.metadata();
        if (!FORMAT.equals(meta.get("format")))
            throw new IllegalArgumentException(file + ": metadata format is " + (meta.containsKey("format") ? "'" + meta.get("format") + "'" : "missing")
                    + ", expected '" + FORMAT + "' (a file written by ./puppet-engine prepare)");
        // before any tensor is looked up: an older format names its tensors otherwise (an early engine's has no 'latent_mean')
        if (!VERSION.equals(meta.get("version")))
            throw new IllegalArgumentException(file + ": written by " + (meta.containsKey("version") ? "format version " + meta.get("version") : "an older engine")
                    + ", this engine reads version " + VERSION + ": run ./puppet-engine prepare again");
        for (String name : new String[]{MEAN, STD, EMBEDDING, DRAGS, CANDIDATES, CANDIDATE_COUNT, STATICS, STATIC_COUNT})
            if (!r.entry(name).dtype().isFloating())
                throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + r.entry(name).dtype() + ", expected a floating type (F32 as prepare writes)");
        int[] l = shape(MEAN);
        if (l.length != 5 || Arrays.stream(l).anyMatch(d -> d == 0))
            throw new IllegalArgumentException(file + ": tensor '" + MEAN + "' must be (clips, frames, h, w, channels), none of them 0, got " + Shape.str(l));
        clips = l[0];
        frames = l[1];
        latentHeight = l[2];
        latentWidth = l[3];
        channels = l[4];
        expect(STD, l);
        int[] e = shape(EMBEDDING);
        if (e.length != 3 || e[0] != clips || e[1] != 1 || e[2] == 0)
            throw new IllegalArgumentException(file + ": tensor '" + EMBEDDING + "' must be (" + clips + ", 1, embedding dim), got " + Shape.str(e));
        embeddingDim = e[2];
        expect(DRAGS, clips, frames, DragTensor.SLOTS, 4);
        trainCount = number(meta, "train_count", 1, clips);
        width = number(meta, "image_width", 1, Integer.MAX_VALUE);
        height = number(meta, "image_height", 1, Integer.MAX_VALUE);
        candidateStart = starts(CANDIDATES, CANDIDATE_COUNT);
        staticStart = starts(STATICS, STATIC_COUNT);
        scalingFactor = real(meta, "scaling_factor");
        staticProbability = real(meta, "static_drag_probability");
        if (!(scalingFactor > 0) || !(staticProbability >= 0 && staticProbability <= 1))
            throw new IllegalArgumentException(file + ": metadata scaling_factor must be > 0 and static_drag_probability in [0, 1], got "
                    + scalingFactor + ", " + staticProbability);
    }

    public static PreparedData open(Path dir) throws IOException {
        if (Files.isRegularFile(dir))   // the file itself given: the directory is what a prepare run makes and train takes
            throw new InputFileException(dir + " is a file: give the directory that holds " + FILE + " (here " + dir.toAbsolutePath().getParent() + ")");
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file))
            throw new InputFileException(dir + ": no " + FILE + (Files.isDirectory(dir.resolve(PreparedDataWriter.WORK))
                    ? " yet (" + PreparedDataWriter.WORK + "/ holds an unfinished prepare: run the same prepare command again to finish it)"
                    : " (make one from a clip dataset with ./puppet-engine prepare)"));
        SafetensorsReader r = SafetensorsReader.open(file);
        try {
            return new PreparedData(file, r);
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
    }

    private int[] shape(String name) throws IOException {
        return reader.entry(name).shape();
    }

    private void expect(String name, int... shape) throws IOException {
        if (!Arrays.equals(shape(name), shape))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' must have shape " + Shape.str(shape) + " (from '" + MEAN + "'), got " + Shape.str(shape(name)));
    }

    /**
     * Where each clip's tracks begin in {@code name} (T, F, 2), from the per-clip counts, after checking that the counts
     * add up to T and that every track lies in the image (read a block at a time).
     */
    private long[] starts(String name, String countName) throws IOException {
        int[] ts = shape(name);
        if (ts.length != 3 || ts[1] != frames || ts[2] != 2)
            throw new IllegalArgumentException(file + ": tensor '" + name + "' must be (tracks, " + frames + ", 2), got " + Shape.str(ts));
        expect(countName, clips);
        double[] c;
        try (Tensor t = reader.load(countName, CpuBackend.get(), DType.F64)) {
            c = t.toDoubleArray();
        }
        long[] start = new long[clips + 1];
        for (int i = 0; i < clips; i++) {
            if (c[i] != Math.rint(c[i]) || c[i] < 0 || c[i] > ts[0])
                throw new IllegalArgumentException(file + ": " + countName + "[" + i + "] is " + c[i] + ", expected a whole number in 0.." + ts[0]);
            start[i + 1] = start[i] + (long) c[i];
        }
        if (start[clips] != ts[0])
            throw new IllegalArgumentException(file + ": " + countName + " adds up to " + start[clips] + " tracks, '" + name + "' holds " + ts[0]);
        int clip = 0;
        for (long first = 0; first < ts[0]; first += SCAN_ROWS) {
            int n = (int) Math.min(SCAN_ROWS, ts[0] - first);
            double[] v = rows(name, first, n);
            for (int k = 0; k < n; k++) {
                if (inside(Arrays.copyOfRange(v, k * 2 * frames, (k + 1) * 2 * frames), width, height)) continue;
                while (start[clip + 1] <= first + k) clip++;
                throw new IllegalArgumentException(file + ": " + name + " of clip " + clip + ", track " + (first + k - start[clip])
                        + ", leaves the " + width + "x" + height + " image");
            }
        }
        return start;
    }

    /** n consecutive rows of a tensor from {@code first}, as doubles. */
    private double[] rows(String name, long first, int n) throws IOException {
        long[] idx = new long[n];
        for (int i = 0; i < n; i++) idx[i] = first + i;
        try (Tensor t = reader.loadRows(name, idx, CpuBackend.get(), DType.F64)) {
            return t.toDoubleArray();
        }
    }

    /** Whether every (x, y) of a pixel track lies in the image (the drag tensor's range). */
    static boolean inside(double[] track, int width, int height) {
        for (int i = 0; i < track.length; i += 2)
            if (!(track[i] >= 0 && track[i] <= width && track[i + 1] >= 0 && track[i + 1] <= height)) return false;
        return true;
    }

    private int number(Map<String, String> meta, String key, int min, int max) {
        String v = meta.get(key);
        if (v == null) throw new IllegalArgumentException(file + ": no " + key + " in its metadata (not written by ./puppet-engine prepare)");
        try {
            int x = Integer.parseInt(v.strip());
            if (x < min || x > max) throw new IllegalArgumentException(file + ": metadata " + key + " is " + x + ", expected " + min + ".." + max
                    + (key.equals("train_count") ? " (the file holds " + max + " clips)" : ""));
            return x;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": metadata " + key + " is '" + v + "', expected a whole number");
        }
    }

    private double real(Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw new IllegalArgumentException(file + ": no " + key + " in its metadata (not written by ./puppet-engine prepare)");
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": metadata " + key + " is '" + v + "', expected a number");
        }
    }

    /**
     * Refuses data prepared for another model: latent channels and the image embedding's width must be the UNet's, and
     * the latents a size it takes (else the first step fails, after the run has begun).
     */
    public void checkFits(UNetConfig unet) {
        if (!unet.takesLatents(latentHeight, latentWidth))
            throw new IllegalArgumentException(file + ": latents are " + latentWidth + "x" + latentHeight + " (from " + width + "x" + height
                    + " px clips); this UNet takes square latents with a side divisible by " + unet.latentMultiple() + ": prepare clips of another size");
        if (2 * channels != unet.inChannels())
            throw new IllegalArgumentException(file + ": latents have " + channels + " channels; this UNet takes " + unet.inChannels() / 2 + " (in_channels / 2)");
        if (embeddingDim != unet.crossAttentionDim())
            throw new IllegalArgumentException(file + ": embeddings are " + embeddingDim + " wide; this UNet's cross_attention_dim is " + unet.crossAttentionDim()
                    + " (prepared with another model's image encoder?)");
    }

    /**
     * Refuses a model whose VAE scales latents otherwise than the one that prepared this set (the UNet would learn
     * latents of another scale than sampling gives it); returns notes where the model's VAE or image encoder file
     * differs from the one that prepared it (the same weights in another dtype, or other weights: then prepare again).
     */
    public List<String> checkEncoders(double vaeScalingFactor, String vaeSha256, String imageEncoderSha256) {
        if (Math.abs(vaeScalingFactor - scalingFactor) > 1e-6 * scalingFactor)
            throw new IllegalArgumentException(file + ": prepared with a VAE of scaling factor " + scalingFactor + "; this model's VAE has "
                    + vaeScalingFactor + " (another VAE): prepare the clips again with this model");
        List<String> notes = new ArrayList<>();
        for (String[] c : new String[][]{{"vae_sha256", vaeSha256, "VAE"}, {"image_encoder_sha256", imageEncoderSha256, "image encoder"}})
            if (meta.containsKey(c[0]) && !meta.get(c[0]).equals(c[1]))
                notes.add(file + " was prepared with another " + c[2] + " file (sha256 " + abbreviate(meta.get(c[0])) + ", this model's "
                        + abbreviate(c[1]) + "): fine if it holds the same weights in another dtype, else prepare again with this model");
        return notes;
    }

    private static String abbreviate(String sha) {
        return sha == null || sha.length() <= 12 ? String.valueOf(sha) : sha.substring(0, 12) + "...";
    }

    /** What identifies this set to a training run resumed on it: its size and metadata (dataset, encoders, counts). */
    public ObjectNode identity() throws IOException {
        ObjectNode id = Json.mapper().createObjectNode();
        id.put("bytes", Files.size(file));
        meta.forEach(id.putObject("metadata")::put);
        return id;
    }

    /** Training uses the training split only. */
    @Override
    public int size() { return trainCount; }

    @Override
    public EdmLoss.Batch batch(int[] clips, long seed, long microStep, Backend backend, DType dtype) throws IOException {
        Backend cpu = CpuBackend.get();
        long[] rows = Arrays.stream(clips).asLongStream().toArray();
        try (Scope s = Scope.open()) {
            Tensor m = finiteRows(MEAN, rows), eps = cpu.empty(DType.F32, m.shape());
            cpu.fillRandom(eps, RandomKind.NORMAL, seed, Streams.offset(microStep, Streams.LATENT));
            Tensor latents = F.scale(F.add(m, F.mul(finiteRows(STD, rows), eps)), scalingFactor);
            Tensor cond = F.reshape(F.contiguous(m.narrow(1, 0, 1)), clips.length, m.size(2), m.size(3), m.size(4));
            float[] d = new float[clips.length * frames * DragTensor.SLOTS * 4];
            for (int b = 0; b < clips.length; b++) {
                float[] row = dragsOf(clips[b], seed, microStep, b);
                System.arraycopy(row, 0, d, b * row.length, row.length);
            }
            Tensor dragTensor = Tensor.of(cpu, DType.F32, new int[]{clips.length, frames, DragTensor.SLOTS, 4}, d);
            return new EdmLoss.Batch(Scope.escape(moved(latents, backend, dtype.full())), Scope.escape(moved(cond, backend, dtype)),
                    Scope.escape(moved(finiteRows(EMBEDDING, rows), backend, dtype)), Scope.escape(moved(dragTensor, backend, DType.F32)));
        }
    }

    /** Clip i's drag tensor for batch position b: chosen afresh from its candidates (spec 4.5), else its own. */
    float[] dragsOf(int clip, long seed, long microStep, int b) throws IOException {
        List<double[]> moving = tracks(CANDIDATES, candidateStart, clip);
        if (moving.isEmpty())
            try (Tensor own = finiteRows(DRAGS, new long[]{clip})) {
                return own.toFloatArray();
            }
        long bits = (long) (Philox.uniform(seed, Streams.offset(microStep, Streams.DRAGS), 2L * b) * (1L << 24)) << 24
                | (long) (Philox.uniform(seed, Streams.offset(microStep, Streams.DRAGS), 2L * b + 1) * (1L << 24));
        List<double[]> chosen = DragSelection.choose(moving, tracks(STATICS, staticStart, clip), staticProbability, (width + height) / 2,
                new SplittableRandom(bits));
        return DragTensor.encodePixels(chosen, frames, width, height);
    }

    /**
     * Rows (clips) of {@code name} as F32 on the CPU, refused naming the clip when one holds a NaN or an infinity: the loss
     * would be NaN and the run stop as diverged, naming neither the file nor the clip. Only the batch's rows are read.
     */
    private Tensor finiteRows(String name, long[] rows) throws IOException {
        Tensor t = reader.loadRows(name, rows, CpuBackend.get(), DType.F32);
        ByteBuffer b = t.toBytes();
        int rowBytes = b.remaining() / rows.length;
        for (int i = 0; i < rows.length; i++) {
            String bad = TensorBytes.nonFinite(b.slice(i * rowBytes, rowBytes), DType.F32);
            if (bad != null) {
                t.close();
                throw new InputFileException(file + ": tensor '" + name + "' of clip " + rows[i] + " is not finite (" + bad
                        + "): the file is damaged; remove it and prepare the clips again");
            }
        }
        return t;
    }

    /** One clip's tracks of {@code name}, each (x, y per frame). */
    private List<double[]> tracks(String name, long[] start, int clip) throws IOException {
        int n = (int) (start[clip + 1] - start[clip]);
        List<double[]> out = new ArrayList<>(n);
        if (n == 0) return out;
        double[] v = rows(name, start[clip], n);
        for (int k = 0; k < n; k++) out.add(Arrays.copyOfRange(v, k * 2 * frames, (k + 1) * 2 * frames));
        return out;
    }

    private static Tensor moved(Tensor t, Backend backend, DType dtype) {
        Tensor on = t.backend() == backend ? t : t.to(backend);
        return on.dtype() == dtype ? on : on.to(dtype);
    }

    @Override
    public void close() throws IOException { reader.close(); }
}
