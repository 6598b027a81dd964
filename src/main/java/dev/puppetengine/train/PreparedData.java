package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.LatentDistribution;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;
import dev.puppetengine.train.data.DragSelection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Clips with their VAE posteriors and CLIP embeddings precomputed (spec 4.5, 4.6), so training never runs the frozen
 * encoders. One safetensors file: latent_mean and latent_std (N, F, h, w, 4), each frame's VAE posterior, unscaled;
 * embedding (N, 1, X) of frame 0; drags (N, F, 5, 4), the clip's own drag tensor; candidates (N, C, F, 2) and
 * static_candidates (N, S, F, 2), the tracked points (pixels) drags are chosen from, candidate_count and static_count
 * (N) the rows of each clip that are real. The first {@code train_count} clips are the training split.
 *
 * <p>Each batch draws what the reference's loader draws per item: latents = (mean + std N(0, 1)) x scaling factor,
 * cond_latent = frame 0's mean unscaled, and drags chosen afresh from the candidates by {@link DragSelection} (a
 * clip without candidates keeps its own drags). The draws are functions of (seed, micro-step, position in the
 * batch), so a resumed run draws what an uninterrupted one does. Written and loaded whole, in memory, with each tensor
 * under 2 GiB ({@link #checkSize}: about 9,300 full-size 14-frame clips per set); streaming per clip is not built.
 */
public final class PreparedData implements TrainingData, AutoCloseable {
    public static final String FILE = "prepared.safetensors";
    static final String FORMAT = "puppet-engine-prepared", VERSION = "2";

    private final Scope scope = Scope.detached();
    private final Tensor mean, std, embedding, drags;
    private final List<List<double[]>> candidates = new ArrayList<>(), statics = new ArrayList<>();
    private final int trainCount, width, height;
    private final double scalingFactor, staticProbability;
    private final Path file;

    private PreparedData(Path file) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file); Scope.Use u = scope.use()) {
            Map<String, String> meta = r.metadata();
            if (!VERSION.equals(meta.get("version")))
                throw new IllegalArgumentException(file + ": written by " + (meta.containsKey("version") ? "format version " + meta.get("version") : "an older engine")
                        + ", this engine reads version " + VERSION + ": run ./puppet-engine prepare again");
            Backend cpu = dev.puppetengine.backend.cpu.CpuBackend.get();
            mean = r.load("latent_mean", cpu, DType.F32);
            std = r.load("latent_std", cpu, DType.F32);
            embedding = r.load("embedding", cpu, DType.F32);
            drags = r.load("drags", cpu, DType.F32);
            int[] l = mean.shape();
            if (l.length != 5) throw new IllegalArgumentException(file + ": tensor 'latent_mean' must be (clips, frames, h, w, channels), got " + Shape.str(l));
            int n = l[0], frames = l[1];
            expect(file, "latent_std", std, l);
            if (embedding.shape().length != 3 || embedding.size(0) != n || embedding.size(1) != 1)
                throw new IllegalArgumentException(file + ": tensor 'embedding' must be (" + n + ", 1, embedding dim), got " + Shape.str(embedding.shape()));
            expect(file, "drags", drags, n, frames, DragTensor.SLOTS, 4);
            trainCount = number(file, meta, "train_count", 1, n);
            width = number(file, meta, "image_width", 1, Integer.MAX_VALUE);
            height = number(file, meta, "image_height", 1, Integer.MAX_VALUE);
            readTracks(r, file, "candidates", "candidate_count", n, frames, width, height, candidates);
            readTracks(r, file, "static_candidates", "static_count", n, frames, width, height, statics);
            scalingFactor = real(file, meta, "scaling_factor");
            staticProbability = real(file, meta, "static_drag_probability");
            if (!(scalingFactor > 0) || !(staticProbability >= 0 && staticProbability <= 1))
                throw new IllegalArgumentException(file + ": metadata scaling_factor must be > 0 and static_drag_probability in [0, 1], got "
                        + scalingFactor + ", " + staticProbability);
            this.file = file;
        } catch (IOException | RuntimeException e) {
            scope.close();   // the tensors loaded before the failing check
            throw e;
        }
    }

    /** Tracks (N, C, F, 2) with their per-clip counts (N) into one list of (x, y per frame) tracks per clip, each inside the image. */
    private static void readTracks(SafetensorsReader r, Path file, String name, String countName, int n, int frames, int width, int height,
                                   List<List<double[]>> into) throws IOException {
        try (Scope s = Scope.open()) {
            Tensor t = r.load(name, dev.puppetengine.backend.cpu.CpuBackend.get(), DType.F64), count = r.load(countName, t.backend(), DType.F64);
            int[] ts = t.shape();
            if (ts.length != 4 || ts[0] != n || ts[2] != frames || ts[3] != 2)
                throw new IllegalArgumentException(file + ": tensor '" + name + "' must be (" + n + ", tracks, " + frames + ", 2), got " + Shape.str(ts));
            expect(file, countName, count, n);
            double[] v = t.toDoubleArray(), c = count.toDoubleArray();
            for (int i = 0; i < n; i++) {
                if (c[i] != Math.rint(c[i]) || c[i] < 0 || c[i] > ts[1])
                    throw new IllegalArgumentException(file + ": " + countName + "[" + i + "] is " + c[i] + ", expected a whole number in 0.." + ts[1]);
                List<double[]> clip = new ArrayList<>();
                for (int k = 0; k < (int) c[i]; k++) {
                    int at = (i * ts[1] + k) * 2 * frames;
                    double[] track = java.util.Arrays.copyOfRange(v, at, at + 2 * frames);
                    if (!inside(track, width, height))
                        throw new IllegalArgumentException(file + ": " + name + "[" + i + "][" + k + "] leaves the " + width + "x" + height + " image");
                    clip.add(track);
                }
                into.add(clip);
            }
        }
    }

    /** Whether every (x, y) of a pixel track lies in the image (the drag tensor's range). */
    static boolean inside(double[] track, int width, int height) {
        for (int i = 0; i < track.length; i += 2)
            if (!(track[i] >= 0 && track[i] <= width && track[i + 1] >= 0 && track[i + 1] <= height)) return false;
        return true;
    }

    private static int number(Path file, Map<String, String> meta, String key, int min, int max) {
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

    private static double real(Path file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw new IllegalArgumentException(file + ": no " + key + " in its metadata (not written by ./puppet-engine prepare)");
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": metadata " + key + " is '" + v + "', expected a number");
        }
    }

    private static void expect(Path file, String name, Tensor t, int... shape) {
        if (!java.util.Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' must have shape " + Shape.str(shape) + " (from 'latent_mean'), got " + Shape.str(t.shape()));
    }

    /** Refuses data prepared for another model: latent channels and the image embedding's width must be the UNet's. */
    public void checkFits(UNetConfig unet) {
        int[] l = mean.shape();
        if (2 * l[4] != unet.inChannels())
            throw new IllegalArgumentException(file + ": latents have " + l[4] + " channels; this UNet takes " + unet.inChannels() / 2 + " (in_channels / 2)");
        if (embedding.size(2) != unet.crossAttentionDim())
            throw new IllegalArgumentException(file + ": embeddings are " + embedding.size(2) + " wide; this UNet's cross_attention_dim is " + unet.crossAttentionDim()
                    + " (prepared with another model's image encoder?)");
    }

    public static PreparedData open(Path dir) throws IOException {
        if (!java.nio.file.Files.isRegularFile(dir.resolve(FILE)))
            throw new InputFileException(dir + ": no " + FILE + " (make one from a clip dataset with ./puppet-engine prepare)");
        return new PreparedData(dir.resolve(FILE));
    }

    /** Training uses the training split only. */
    @Override
    public int size() { return trainCount; }

    @Override
    public EdmLoss.Batch batch(int[] clips, long seed, long microStep, Backend backend, DType dtype) {
        Backend cpu = mean.backend();
        try (Scope s = Scope.open()) {
            Tensor m = rows(mean, clips), eps = cpu.empty(DType.F32, m.shape());
            cpu.fillRandom(eps, RandomKind.NORMAL, seed, Streams.offset(microStep, Streams.LATENT));
            Tensor latents = F.scale(F.add(m, F.mul(rows(std, clips), eps)), scalingFactor);
            Tensor cond = F.reshape(F.contiguous(m.narrow(1, 0, 1)), clips.length, m.size(2), m.size(3), m.size(4));
            int frames = m.size(1);
            float[] d = new float[clips.length * frames * DragTensor.SLOTS * 4];
            for (int b = 0; b < clips.length; b++) {
                float[] row = dragsOf(clips[b], seed, microStep, b, frames);
                System.arraycopy(row, 0, d, b * row.length, row.length);
            }
            Tensor dragTensor = Tensor.of(cpu, DType.F32, new int[]{clips.length, frames, DragTensor.SLOTS, 4}, d);
            return new EdmLoss.Batch(Scope.escape(moved(latents, backend, EdmLoss.lossType(dtype))), Scope.escape(moved(cond, backend, dtype)),
                    Scope.escape(moved(rows(embedding, clips), backend, dtype)), Scope.escape(moved(dragTensor, backend, DType.F32)));
        }
    }

    /** Clip i's drag tensor for batch position b: chosen afresh from its candidates (spec 4.5), else its own. */
    float[] dragsOf(int clip, long seed, long microStep, int b, int frames) {
        if (candidates.get(clip).isEmpty())
            try (Tensor own = drags.narrow(0, clip, 1)) {
                return own.toFloatArray();
            }
        long bits = (long) (Philox.uniform(seed, Streams.offset(microStep, Streams.DRAGS), 2L * b) * (1L << 24)) << 24
                | (long) (Philox.uniform(seed, Streams.offset(microStep, Streams.DRAGS), 2L * b + 1) * (1L << 24));
        List<double[]> chosen = DragSelection.choose(candidates.get(clip), statics.get(clip), staticProbability, (width + height) / 2,
                new SplittableRandom(bits));
        return DragTensor.encodePixels(chosen, frames, width, height);
    }

    private static Tensor rows(Tensor all, int[] idx) {
        List<Tensor> parts = new ArrayList<>();
        for (int i : idx) parts.add(all.narrow(0, i, 1));
        return all.backend().concat(parts, 0);
    }

    private static Tensor moved(Tensor t, Backend backend, DType dtype) {
        Tensor on = t.backend() == backend ? t : t.to(backend);
        return on.dtype() == dtype ? on : on.to(dtype);
    }

    /**
     * Encodes every clip of {@code data} with the model's VAE (each frame's posterior) and image encoder (frame 0) into
     * {@code out}/prepared.safetensors, with the clips' drags and the candidates to redraw them from. Candidate tracks
     * that leave the image (the drag tensor cannot hold them) are left out; returns how many.
     */
    public static int write(Path out, ClipDataset data, AutoencoderKLTemporalDecoder vae, ClipVisionModelWithProjection clip, Backend backend,
                             DType dtype, IntConsumer progress) throws IOException {
        int n = data.count(), frames = data.frames(), down = vae.config().downscaleFactor();
        checkSize(n, frames, data.height() / down, data.width() / down, vae.config().latentChannels());
        List<double[]> means = new ArrayList<>(), stds = new ArrayList<>(), emb = new ArrayList<>(), drg = new ArrayList<>();
        List<List<double[]>> cands = new ArrayList<>(), still = new ArrayList<>();
        int[] latShape = null;
        int embDim = 0, outside = 0;
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (int i = 0; i < n; i++) {
                try (Scope s = Scope.open()) {
                    ClipSample c = data.read(i);
                    List<RgbImage> imgs = new ArrayList<>();
                    for (int f = 0; f < frames; f++) imgs.add(c.frame(f));
                    LatentDistribution post = vae.encode(F.to(ImageTensors.toTensor(backend, imgs), dtype));      // (F, h, w, 4) each
                    latShape = post.mean().shape();
                    means.add(post.mean().toDoubleArray());
                    stds.add(F.unary(UnaryOp.EXP, F.scale(post.logvar(), 0.5)).toDoubleArray());
                    Tensor e = clip.embed(F.to(ClipPreprocess.toTensor(backend, imgs.get(0), clip.config().imageSize()), dtype));
                    embDim = e.size(1);
                    emb.add(e.toDoubleArray());
                    float[] d = c.dragTensor();
                    double[] dd = new double[d.length];
                    for (int j = 0; j < d.length; j++) dd[j] = d[j];
                    drg.add(dd);
                    List<double[]> moving = c.drags().candidates().stream().filter(t -> inside(t, data.width(), data.height())).toList(),
                            fixed = c.drags().staticCandidates().stream().filter(t -> inside(t, data.width(), data.height())).toList();
                    outside += c.drags().candidates().size() - moving.size() + c.drags().staticCandidates().size() - fixed.size();
                    cands.add(moving);
                    still.add(fixed);
                }
                if (progress != null) progress.accept(i + 1);
            }
        }
        int h = latShape[1], w = latShape[2], ch = latShape[3];
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            Backend cpu = dev.puppetengine.backend.cpu.CpuBackend.get();
            tensors.put("latent_mean", Tensor.of(cpu, DType.F32, new int[]{n, frames, h, w, ch}, flatten(means)));
            tensors.put("latent_std", Tensor.of(cpu, DType.F32, new int[]{n, frames, h, w, ch}, flatten(stds)));
            tensors.put("embedding", Tensor.of(cpu, DType.F32, new int[]{n, 1, embDim}, flatten(emb)));
            tensors.put("drags", Tensor.of(cpu, DType.F32, new int[]{n, frames, DragTensor.SLOTS, 4}, flatten(drg)));
            putTracks(tensors, cpu, "candidates", "candidate_count", cands, frames);
            putTracks(tensors, cpu, "static_candidates", "static_count", still, frames);
            java.nio.file.Files.createDirectories(out);
            SafetensorsWriter.write(out.resolve(FILE), new java.util.TreeMap<>(Map.of("format", FORMAT, "version", VERSION,   // sorted: same bytes every run
                    "train_count", String.valueOf(data.trainCount()), "clips", String.valueOf(n), "scaling_factor", String.valueOf(vae.scalingFactor()),
                    "image_width", String.valueOf(data.width()), "image_height", String.valueOf(data.height()),
                    "static_drag_probability", String.valueOf(data.manifest().parameters().path("static_drag_probability").asDouble(0)))), tensors);
        }
        return outside;
    }

    /**
     * Refuses, before hours of encoding, a dataset whose latent tensors would exceed what one safetensors tensor can be
     * mapped as (2 GiB; the whole set is also held in memory): about 9,300 clips of 14 frames at 32 x 32 x 4.
     */
    static void checkSize(int clips, int frames, int h, int w, int channels) {
        long bytes = (long) clips * frames * h * w * channels * Float.BYTES;
        if (bytes > Integer.MAX_VALUE)
            throw new IllegalArgumentException(clips + " clips of " + frames + " frames make " + bytes / (1L << 20) + " MiB latent tensors; one prepared set"
                    + " holds at most 2 GiB per tensor (" + Integer.MAX_VALUE / ((long) frames * h * w * channels * Float.BYTES) + " such clips): split the dataset");
    }

    /** Per-clip track lists as (N, max(1, most tracks), F, 2), zero-padded, and their counts (N). */
    private static void putTracks(Map<String, Tensor> into, Backend cpu, String name, String countName, List<List<double[]>> perClip, int frames) {
        int most = Math.max(1, perClip.stream().mapToInt(List::size).max().orElse(0)), n = perClip.size();
        double[] v = new double[n * most * 2 * frames], count = new double[n];
        for (int i = 0; i < n; i++) {
            List<double[]> tracks = perClip.get(i);
            count[i] = tracks.size();
            for (int k = 0; k < tracks.size(); k++) System.arraycopy(tracks.get(k), 0, v, (i * most + k) * 2 * frames, 2 * frames);
        }
        into.put(name, Tensor.of(cpu, DType.F32, new int[]{n, most, frames, 2}, v));
        into.put(countName, Tensor.of(cpu, DType.F32, new int[]{n}, count));
    }

    private static double[] flatten(List<double[]> rows) {
        int len = rows.get(0).length;
        double[] out = new double[rows.size() * len];
        for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i), 0, out, i * len, len);
        return out;
    }

    @Override
    public void close() { scope.close(); }
}
