package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
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
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Clips with their VAE latents and CLIP embeddings precomputed (spec 4.6), so training never runs the frozen
 * encoders: one safetensors file with latents (N, F, h, w, 4) = posterior mean x scaling factor, cond_latent
 * (N, h, w, 4) = frame 0's mean unscaled, embedding (N, 1, X) of frame 0 and drags (N, F, 5, 4). The
 * reference draws mean + std N(0, 1) per epoch; the toy uses the mean. The first {@code train_count} clips
 * are the training split. Loaded whole into memory (a few tens of MB for thousands of 64 x 64 clips).
 */
public final class PreparedData implements TrainingData, AutoCloseable {
    public static final String FILE = "prepared.safetensors";

    private final Scope scope = Scope.detached();
    private final Tensor latents, cond, embedding, drags;
    private final int trainCount;
    private final Path file;

    private PreparedData(Path file) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file); Scope.Use u = scope.use()) {
            Backend cpu = dev.puppetengine.backend.cpu.CpuBackend.get();
            latents = r.load("latents", cpu, DType.F32);
            cond = r.load("cond_latent", cpu, DType.F32);
            embedding = r.load("embedding", cpu, DType.F32);
            drags = r.load("drags", cpu, DType.F32);
            String tc = r.metadata().get("train_count");
            if (tc == null) throw new IllegalArgumentException(file + ": no train_count in its metadata (not written by ./puppet-engine prepare)");
            int[] l = latents.shape();
            if (l.length != 5) throw new IllegalArgumentException(file + ": tensor 'latents' must be (clips, frames, h, w, channels), got " + Shape.str(l));
            int n = l[0];
            expect(file, "cond_latent", cond, n, l[2], l[3], l[4]);
            if (embedding.shape().length != 3 || embedding.size(0) != n || embedding.size(1) != 1)
                throw new IllegalArgumentException(file + ": tensor 'embedding' must be (" + n + ", 1, embedding dim), got " + Shape.str(embedding.shape()));
            expect(file, "drags", drags, n, l[1], DragTensor.SLOTS, 4);
            try {
                trainCount = Integer.parseInt(tc.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": metadata train_count is '" + tc + "', expected a whole number");
            }
            if (trainCount < 1 || trainCount > n)
                throw new IllegalArgumentException(file + ": metadata train_count is " + trainCount + ", expected 1.." + n + " (the file holds " + n + " clips)");
            this.file = file;
        } catch (IOException | RuntimeException e) {
            scope.close();   // the tensors loaded before the failing check
            throw e;
        }
    }

    private static void expect(Path file, String name, Tensor t, int... shape) {
        if (!java.util.Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' must have shape " + Shape.str(shape) + " (from 'latents'), got " + Shape.str(t.shape()));
    }

    /** Refuses data prepared for another model: latent channels, frames and the image embedding's width must be the UNet's. */
    public void checkFits(UNetConfig unet) {
        int[] l = latents.shape();
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
    public EdmLoss.Batch batch(int[] clips, Backend backend, DType dtype) {
        return new EdmLoss.Batch(rows(latents, clips, backend, EdmLoss.lossType(dtype)), rows(cond, clips, backend, dtype),
                rows(embedding, clips, backend, dtype), rows(drags, clips, backend, DType.F32));
    }

    private static Tensor rows(Tensor all, int[] idx, Backend backend, DType dtype) {
        List<Tensor> parts = new ArrayList<>();
        for (int i : idx) parts.add(all.narrow(0, i, 1));
        Tensor cat = all.backend().concat(parts, 0);
        for (Tensor p : parts) p.close();
        Tensor moved = cat.to(backend);
        cat.close();
        if (moved.dtype() == dtype) return moved;
        Tensor conv = moved.to(dtype);
        moved.close();
        return conv;
    }

    /** Encodes every clip of {@code data} with the model's VAE and image encoder into {@code out}/prepared.safetensors. */
    public static void write(Path out, ClipDataset data, AutoencoderKLTemporalDecoder vae, ClipVisionModelWithProjection clip, Backend backend,
                             DType dtype, IntConsumer progress) throws IOException {
        int n = data.count(), frames = data.frames();
        List<double[]> lat = new ArrayList<>(), con = new ArrayList<>(), emb = new ArrayList<>(), drg = new ArrayList<>();
        int[] latShape = null;
        int embDim = 0;
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (int i = 0; i < n; i++) {
                try (Scope s = Scope.open()) {
                    ClipSample c = data.read(i);
                    List<RgbImage> imgs = new ArrayList<>();
                    for (int f = 0; f < frames; f++) imgs.add(c.frame(f));
                    Tensor mean = vae.encodeMean(F.to(ImageTensors.toTensor(backend, imgs), dtype));      // (F, h, w, 4)
                    latShape = mean.shape();
                    lat.add(F.scale(mean, vae.scalingFactor()).toDoubleArray());
                    double[] m = mean.toDoubleArray();
                    con.add(java.util.Arrays.copyOf(m, m.length / frames));
                    Tensor e = clip.embed(F.to(ClipPreprocess.toTensor(backend, imgs.get(0), clip.config().imageSize()), dtype));
                    embDim = e.size(1);
                    emb.add(e.toDoubleArray());
                    float[] d = c.dragTensor();
                    double[] dd = new double[d.length];
                    for (int j = 0; j < d.length; j++) dd[j] = d[j];
                    drg.add(dd);
                }
                if (progress != null) progress.accept(i + 1);
            }
        }
        int h = latShape[1], w = latShape[2], ch = latShape[3];
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            Backend cpu = dev.puppetengine.backend.cpu.CpuBackend.get();
            tensors.put("latents", Tensor.of(cpu, DType.F32, new int[]{n, frames, h, w, ch}, flatten(lat)));
            tensors.put("cond_latent", Tensor.of(cpu, DType.F32, new int[]{n, h, w, ch}, flatten(con)));
            tensors.put("embedding", Tensor.of(cpu, DType.F32, new int[]{n, 1, embDim}, flatten(emb)));
            tensors.put("drags", Tensor.of(cpu, DType.F32, new int[]{n, frames, 5, 4}, flatten(drg)));
            java.nio.file.Files.createDirectories(out);
            SafetensorsWriter.write(out.resolve(FILE), Map.of("format", "puppet-engine-prepared", "train_count", String.valueOf(data.trainCount()),
                    "clips", String.valueOf(n), "scaling_factor", String.valueOf(vae.scalingFactor())), tensors);
        }
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
