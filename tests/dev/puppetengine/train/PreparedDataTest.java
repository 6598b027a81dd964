package dev.puppetengine.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipDatasetWriter;
import dev.puppetengine.train.data.ClipDrags;
import dev.puppetengine.train.data.DatasetManifest;
import dev.puppetengine.train.data.DragSelection;
import org.apache.commons.io.file.PathUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * prepared.safetensors: what a batch draws (the reference loader's posterior sample and drag choice, spec 4.5, 4.6),
 * and files whose tensors disagree with each other, or with the model, refused naming the file and the tensor.
 */
class PreparedDataTest {
    private static final CpuBackend CPU = CpuBackend.get();
    private static final int CLIPS = 3, FRAMES = 2, SIDE = 8, CH = 4, SIZE = 64, CANDIDATES = 8;
    private static final double SCALE = 0.5;

    private record Spec(Map<String, int[]> shapes, Map<String, String> meta) {}

    /**
     * 3 clips of 2 frames, 4 x 4 latents of 4 channels, 8-wide embeddings; clip 0 has 8 candidate tracks and one
     * static one, clips 1 and 2 none (they keep their own drags). {@code change} edits a shape or the metadata.
     */
    private static Path write(Path dir, String name, Consumer<Spec> change) throws IOException {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("latent_mean", new int[]{CLIPS, FRAMES, SIDE, SIDE, CH});
        shapes.put("latent_std", new int[]{CLIPS, FRAMES, SIDE, SIDE, CH});
        shapes.put("embedding", new int[]{CLIPS, 1, 8});
        shapes.put("drags", new int[]{CLIPS, FRAMES, DragTensor.SLOTS, 4});
        shapes.put("candidates", new int[]{CANDIDATES, FRAMES, 2});
        shapes.put("candidate_count", new int[]{CLIPS});
        shapes.put("static_candidates", new int[]{1, FRAMES, 2});
        shapes.put("static_count", new int[]{CLIPS});
        Map<String, String> meta = new LinkedHashMap<>(Map.of("format", PreparedData.FORMAT, "version", "3", "train_count", "2", "scaling_factor", String.valueOf(SCALE),
                "image_width", String.valueOf(SIZE), "image_height", String.valueOf(SIZE), "static_drag_probability", "0.5"));
        Spec spec = new Spec(shapes, meta);
        change.accept(spec);
        Path d = dir.resolve(name);
        Files.createDirectories(d);
        try (Scope s = Scope.open()) {
            List<SafetensorsWriter.Item> items = new ArrayList<>();
            shapes.forEach((k, shape) -> items.add(Arrays.stream(shape).anyMatch(n -> n == 0) ? new SafetensorsWriter.Item(k, DType.F32, shape, out -> {})
                    : SafetensorsWriter.Item.of(k, Tensor.of(CPU, DType.F32, shape, values(k, shape)))));
            SafetensorsWriter.write(d.resolve(PreparedData.FILE), meta, items);
        }
        return d;
    }

    /** Distinct, recognisable values per tensor; candidate tracks far apart and of different lengths. */
    private static double[] values(String name, int[] shape) {
        double[] v = new double[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        switch (name) {
            case "candidate_count" -> v[0] = CANDIDATES;
            case "static_count" -> v[0] = 1;
            case "candidates" -> {
                for (int k = 0; k < Math.min(CANDIDATES, shape[0]); k++)      // clip 0: track k from (4 + 7k, 10) moving right by 2 + k px
                    for (int f = 0; f < FRAMES; f++) {
                        v[(k * FRAMES + f) * 2] = 4 + 7 * k + f * (2 + k);
                        v[(k * FRAMES + f) * 2 + 1] = 10;
                    }
            }
            case "static_candidates" -> {
                for (int f = 0; f < FRAMES; f++) { v[2 * f] = 60; v[2 * f + 1] = 60; }
            }
            default -> {
                for (int i = 0; i < v.length; i++) v[i] = (name.hashCode() % 7 + i % 13) / 16.0;
            }
        }
        return v;
    }

    private static String refused(Path d) {
        return assertThrows(IllegalArgumentException.class, () -> PreparedData.open(d).close()).getMessage();
    }

    @Test
    void eachBatchDrawsAPosteriorSampleAndRedrawsTheDragsFromTheCandidates(@TempDir Path dir) throws IOException {
        try (PreparedData p = PreparedData.open(write(dir, "ok", s -> {})); Scope s = Scope.open()) {
            int[] clips = {2, 0};
            EdmLoss.Batch b = p.batch(clips, 9, 3, CPU, DType.F32);
            double[] mean = values("latent_mean", new int[]{CLIPS, FRAMES, SIDE, SIDE, CH}), std = values("latent_std", new int[]{CLIPS, FRAMES, SIDE, SIDE, CH});
            double[] lat = b.latents().toDoubleArray(), cond = b.condLatent().toDoubleArray();
            int per = FRAMES * SIDE * SIDE * CH, img = SIDE * SIDE * CH;
            for (int i = 0; i < lat.length; i++) {   // batch position i / per holds clip clips[i / per]
                int at = clips[i / per] * per + i % per;
                double eps = Philox.normal(9, Streams.offset(3, Streams.LATENT), i);
                assertEquals((float) ((mean[at] + std[at] * (float) eps) * SCALE), lat[i], 1e-6, "latent " + i);
            }
            for (int c = 0; c < 2; c++)
                for (int i = 0; i < img; i++) assertEquals((float) mean[clips[c] * per + i], cond[c * img + i], 0, "cond of batch position " + c);
            double[] batchDrags = b.drags().toDoubleArray();
            for (int c = 0; c < 2; c++) {
                float[] want = p.dragsOf(clips[c], 9, 3, c);
                for (int i = 0; i < want.length; i++) assertEquals(want[i], batchDrags[c * want.length + i], 0, "drag tensor of batch position " + c);
            }
            assertArrayEquals(lat, p.batch(clips, 9, 3, CPU, DType.F32).latents().toDoubleArray(), "same seed and step, same draw");
            assertTrue(!Arrays.equals(lat, p.batch(clips, 9, 4, CPU, DType.F32).latents().toDoubleArray()), "another step, another draw");

            // clip 0 redraws among its candidates; clip 1 (no candidates) keeps its own drags at every step
            float[] own = new float[FRAMES * DragTensor.SLOTS * 4];
            double[] ownAll = values("drags", new int[]{CLIPS, FRAMES, DragTensor.SLOTS, 4});
            for (int i = 0; i < own.length; i++) own[i] = (float) ownAll[own.length + i];
            Set<String> seen = new HashSet<>();
            for (long step = 0; step < 40; step++) {
                float[] d = p.dragsOf(0, 9, step, 0);
                assertArrayEquals(d, p.dragsOf(0, 9, step, 0));
                assertArrayEquals(own, p.dragsOf(1, 9, step, 1));
                int present = 0;
                for (int k = 0; k < DragTensor.SLOTS; k++) {
                    float x0 = d[k * 4], y0 = d[k * 4 + 1];
                    if (x0 == 0 && y0 == 0) continue;
                    present++;
                    long track = Math.round((x0 * SIZE - 4) / 7);   // candidate k starts at (4 + 7k, 10), the static point at (60, 60)
                    boolean isStatic = Math.abs(x0 * SIZE - 60) < 1e-3 && Math.abs(y0 * SIZE - 60) < 1e-3;
                    assertTrue(isStatic || Math.abs(y0 * SIZE - 10) < 1e-3 && Math.abs(x0 * SIZE - (4 + 7 * track)) < 1e-3,
                            "drag " + k + " starts at a candidate or the static point: " + x0 * SIZE + ", " + y0 * SIZE);
                    for (int f = 0; f < FRAMES; f++) {      // and follows that track in every frame
                        double x = d[(f * DragTensor.SLOTS + k) * 4 + 2] * SIZE, y = d[(f * DragTensor.SLOTS + k) * 4 + 3] * SIZE;
                        assertEquals(isStatic ? 60 : 4 + 7 * track + f * (2 + track), x, 1e-3, "x of drag " + k + " in frame " + f);
                        assertEquals(isStatic ? 60 : 10, y, 1e-3, "y of drag " + k + " in frame " + f);
                    }
                }
                assertTrue(present >= 1 && present <= DragTensor.SLOTS);
                seen.add(Arrays.toString(d));
            }
            assertTrue(seen.size() > 5, "drags are chosen afresh: " + seen.size() + " distinct sets in 40 steps");
        }
    }

    private static final Map<String, String> WEIGHTS = Map.of("vae_sha256", "v1", "image_encoder_sha256", "c1");

    /**
     * A hand-made dataset of {@code n} 32 x 32 clips of 2 frames with distinct pixels; each clip has one candidate in the
     * image, one that leaves it, and one static point.
     */
    private static ClipDataset dataset(Path dir, int n) throws IOException {
        return dataset(dir, n, 2);
    }

    /** As {@link #dataset(Path, int)} with {@code frames} frames a clip (the tracks' middle frames where they start). */
    private static ClipDataset dataset(Path dir, int n, int frames) throws IOException {
        return dataset(dir, n, frames, List.of());
    }

    /** As above, with {@code moreStatics} static candidates beside the one in the image. */
    private static ClipDataset dataset(Path dir, int n, int frames, List<double[]> moreStatics) throws IOException {
        int side = 32;
        DatasetManifest m = new DatasetManifest("test/1", 1, JsonNodeFactory.instance.objectNode().put("static_drag_probability", 0.25), n, frames,
                side, side, Math.max(1, n - 1), true);
        double[] in = track(frames, 4, 5, 9, 5), out = track(frames, 20, 5, 33, 5), still = track(frames, 30, 30, 30, 30);   // out ends at x = 33 > 32
        try (ClipDatasetWriter w = ClipDatasetWriter.open(dir.resolve("clips"), m)) {
            for (int i = 0; i < n; i++) {
                byte[] rgb = new byte[frames * side * side * 3];
                new Random(i).nextBytes(rgb);
                w.write(i, rgb, new ClipDrags(side, side, frames, List.of(in), List.of(in, out),
                        Stream.concat(Stream.of(still), moreStatics.stream()).toList(), JsonNodeFactory.instance.objectNode()));
            }
            w.finish();
        }
        return ClipDataset.open(dir.resolve("clips"));
    }

    /** (x, y) per frame: (x0, y0) in every frame but the last, (x1, y1) there. */
    private static double[] track(int frames, double x0, double y0, double x1, double y1) {
        double[] t = new double[2 * frames];
        for (int f = 0; f < frames; f++) {
            t[2 * f] = f == frames - 1 ? x1 : x0;
            t[2 * f + 1] = f == frames - 1 ? y1 : y0;
        }
        return t;
    }

    /**
     * prepare's memory is that of one frame, not of one clip: on the CPU backend (tensors on the Java heap) the VAE encodes
     * a clip's frames one at a time (its encoder is per frame), so the tensors beside the weights peak no higher for clips
     * of 8 frames than of 2. Encoded all at once, 14 frames of the full VAE at 256 x 256 in fp32 took more than the 8 GB heap.
     */
    @Test
    void prepareEncodesOneFrameAtATime(@TempDir Path dir) throws IOException {
        long[] peak = new long[2];
        int[] frames = {2, 8};
        for (int k = 0; k < 2; k++) {
            ClipDataset data = dataset(dir.resolve("d" + frames[k]), 1, frames[k]);
            AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
            ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
            try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
                 PreparedDataWriter w = PreparedDataWriter.open(dir.resolve("p" + frames[k]), data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS)) {
                long before = CPU.bytesInUse();
                CPU.resetPeak();
                w.run(vae, clip, null);
                peak[k] = CPU.peakBytes() - before;
            }
        }
        assertTrue(peak[1] < 1.25 * peak[0], "tensors beside the weights peaked at " + peak[0] + " bytes for 2 frames, " + peak[1] + " for 8");
    }

    /** prepare with the tiny encoders, committing after every clip; {@code stopAfter} clips done (0 for never), it fails as a crash would. */
    private static int prepare(Path out, ClipDataset data, Map<String, String> weights, int stopAfter) throws IOException {
        return prepare(out, data, weights, stopAfter, 0);
    }

    private static int prepare(Path out, ClipDataset data, Map<String, String> weights, int stopAfter, long commitMillis) throws IOException {
        return prepare(out, data, weights, stopAfter, commitMillis, DType.F32, v -> {});
    }

    /** The same in {@code dtype}, the VAE's weights changed by {@code vaeEdit} first. */
    private static int prepare(Path out, ClipDataset data, Map<String, String> weights, int stopAfter, long commitMillis, DType dtype,
                               Consumer<ParameterStore> vaeEdit) throws IOException {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, dtype, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, dtype, 2);
             PreparedDataWriter w = PreparedDataWriter.open(out, data, vae.scalingFactor(), CPU, dtype, weights, commitMillis)) {
            vaeEdit.accept(v);
            return w.run(vae, clip, done -> {
                if (done == stopAfter) throw new IllegalStateException("crash after clip " + done);
            });
        }
    }

    /**
     * An encoder that overflows fp16 (its first conv's weights x 1e5, still finite there: the conv's output is not) gives
     * NaN posteriors in F16; prepare refuses them naming the clip instead of writing data that would stop training
     * with a NaN loss whenever that clip is drawn. In F32 the same weights prepare (the group norm takes the scale out).
     */
    @Test
    void prepareRefusesNonFiniteEncodings(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 2);
        Consumer<ParameterStore> huge = v -> {
            Tensor w = v.parameters().get("encoder.conv_in.weight").value();
            w.copyFrom(Arrays.stream(w.toDoubleArray()).map(x -> x * 1e5).toArray());
        };
        assertEquals(2, prepare(dir.resolve("f32"), data, WEIGHTS, 0, 0, DType.F32, huge));
        Path out = dir.resolve("f16");
        String said = assertThrows(IllegalArgumentException.class, () -> prepare(out, data, WEIGHTS, 0, 0, DType.F16, huge)).getMessage();
        assertTrue(said.startsWith(ClipDataset.clipDir(data.root(), 0) + ": its latent_mean from the model's encoders is not finite (element "), said);
        assertTrue(said.endsWith("or a 16-bit --dtype overflowed (try bf16 or fp32)"), said);
        assertTrue(!Files.exists(out.resolve(PreparedData.FILE)));
    }

    /** An encoder output with a NaN (here from a NaN weight) is refused naming the clip, not written for training to stop on later. */
    @Test
    void prepareRefusesEncoderOutputsThatAreNotFinite(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 2);
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(dir.resolve("prep"), data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS)) {
            Tensor bias = v.parameters().get("encoder.conv_in.bias").value();
            double[] b = bias.toDoubleArray();
            b[0] = Double.NaN;
            bias.copyFrom(b);
            String said = assertThrows(IllegalArgumentException.class, () -> w.run(vae, clip, null)).getMessage();
            assertTrue(said.startsWith(ClipDataset.clipDir(data.root(), 0) + ": its latent_mean from the model's encoders is not finite (element ")
                    && said.endsWith(" is NaN): the encoders' weights are not finite, or a 16-bit --dtype overflowed (try bf16 or fp32)"), said);
        }
        assertFalse(Files.exists(dir.resolve("prep").resolve(PreparedData.FILE)));
    }

    /**
     * Spec 4.6: what prepare stores per frame is the VAE posterior of that frame, unscaled: latent_mean = the posterior
     * mean and latent_std = exp(logvar / 2) (the std the loader multiplies N(0, 1) by), each frame encoded alone.
     */
    @Test
    void prepareStoresEachFramesPosteriorMeanAndStd(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 2);
        prepare(dir.resolve("prep"), data, WEIGHTS, 0);
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1);   // the weights prepare() used
             SafetensorsReader r = SafetensorsReader.open(dir.resolve("prep").resolve(PreparedData.FILE)); Scope s = Scope.open()) {
            double[] mean = r.load("latent_mean", CPU, DType.F64).toDoubleArray(), std = r.load("latent_std", CPU, DType.F64).toDoubleArray();
            int[] shape = r.entry("latent_mean").shape();
            int per = shape[2] * shape[3] * shape[4], frames = shape[1];
            int checked = 0;
            for (int clip = 0; clip < shape[0]; clip++)
                for (int f = 0; f < frames; f++) {
                    var post = vae.encode(ImageTensors.toTensor(CPU, List.of(data.read(clip).frame(f))));
                    double[] m = post.mean().toDoubleArray(), lv = post.logvar().toDoubleArray();
                    int at = (clip * frames + f) * per;
                    for (int i = 0; i < per; i++, checked++) {
                        assertEquals(m[i], mean[at + i], 1e-6, "mean, clip " + clip + " frame " + f);
                        assertEquals(Math.exp(0.5 * lv[i]), std[at + i], 1e-6 * Math.exp(0.5 * lv[i]), "std, clip " + clip + " frame " + f);
                    }
                }
            assertTrue(checked > 0);
        }
    }

    /** prepare: posteriors and candidates stored; a candidate that leaves the image is left out and counted. */
    @Test
    void prepareKeepsTheCandidatesThatStayInTheImage(@TempDir Path dir) throws IOException {
        assertEquals(2, prepare(dir.resolve("prep"), dataset(dir, 2), WEIGHTS, 0));
        assertTrue(!Files.exists(dir.resolve("prep").resolve(PreparedDataWriter.WORK)), "the work folder is removed");
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("prep").resolve(PreparedData.FILE)); Scope s = Scope.open()) {
            assertArrayEquals(new double[]{1, 1}, r.load("candidate_count", CPU, DType.F64).toDoubleArray());
            assertArrayEquals(new double[]{1, 1}, r.load("static_count", CPU, DType.F64).toDoubleArray());
            assertArrayEquals(new int[]{2, 2, 2}, r.entry("candidates").shape());
            assertEquals("0.25", r.metadata().get("static_drag_probability"));
            assertEquals("v1", r.metadata().get("vae_sha256"), "the encoders' checksums, which train compares with its model's");
            assertEquals("c1", r.metadata().get("image_encoder_sha256"));
            assertTrue(r.load("latent_std", CPU, DType.F64).toDoubleArray()[0] > 0, "the posterior's std is stored");
        }
        try (PreparedData p = PreparedData.open(dir.resolve("prep")); Scope s = Scope.open()) {
            assertEquals(1, p.size());
            assertEquals(9.0 / 32, p.batch(new int[]{0}, 1, 0, CPU, DType.F32).drags().toDoubleArray()[(DragTensor.SLOTS + 0) * 4 + 2], 1e-6,
                    "frame 1 of the one moving candidate");
        }
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));   // opened for one VAE, run with another: refused
        try (PreparedDataWriter w = PreparedDataWriter.open(dir.resolve("other"), dataset(dir.resolve("d2"), 1), 2 * vae.scalingFactor(), CPU, DType.F32, WEIGHTS)) {
            String said = assertThrows(IllegalArgumentException.class, () -> w.run(vae, null, null)).getMessage();
            assertTrue(said.contains("a VAE of scaling factor " + vae.scalingFactor() + ", but this prepare was opened for " + 2 * vae.scalingFactor()), said);
        }
        Path file = dir.resolve("prep").resolve(PreparedData.FILE);   // the file named instead of its directory: say which to give
        String msg = assertThrows(InputFileException.class, () -> PreparedData.open(file)).getMessage();
        assertTrue(msg.contains(file + " is a file: give the directory that holds prepared.safetensors (here " + dir.resolve("prep").toAbsolutePath() + ")"), msg);
    }

    /**
     * A prepare that crashed continues from its last commit (bytes written after it are dropped, an assembly or clean-up
     * cut short is removed) and ends with the same file as one that never stopped; under other weights, with a part
     * shorter than committed, or while another prepare writes there, it is refused. Without a commit it starts over.
     */
    @Test
    void anInterruptedPrepareContinuesToTheSameFile(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 5);
        prepare(dir.resolve("whole"), data, WEIGHTS, 0);
        Path out = dir.resolve("resumed"), work = out.resolve(PreparedDataWriter.WORK);
        assertThrows(IllegalStateException.class, () -> prepare(out, data, WEIGHTS, 3));
        assertTrue(Files.isRegularFile(work.resolve(PreparedDataWriter.PROGRESS)) && !Files.exists(out.resolve(PreparedData.FILE)));
        assertEquals(3, Json.read(work.resolve(PreparedDataWriter.PROGRESS)).get("clips_done").asInt());
        Files.write(work.resolve("latent_mean"), new byte[100], StandardOpenOption.APPEND);   // written after the last commit

        String other = assertThrows(InputFileException.class,
                () -> prepare(out, data, Map.of("vae_sha256", "v2", "image_encoder_sha256", "c1"), 0)).getMessage();
        assertTrue(other.contains("unfinished prepare of other settings (vae_sha256 \"v1\" -> \"v2\")") && other.contains("remove " + work), "message: " + other);
        String msg = assertThrows(InputFileException.class, () -> PreparedData.open(out)).getMessage();
        assertTrue(msg.contains("run the same prepare command again to finish it"), msg);

        Path progress = work.resolve(PreparedDataWriter.PROGRESS);   // a count past the dataset, or past an int, is refused
        String committed = Files.readString(progress);
        for (String[] bad : new String[][]{{"6", "field 'clips_done' is 6, more than the dataset's 5 clips"},
                {"4294967299", "field 'clips_done' must be an integer from 0 to 2147483647, found 4294967299"}}) {
            var edited = (ObjectNode) Json.mapper().readTree(committed);
            Files.writeString(progress, edited.put("clips_done", new BigInteger(bad[0])).toString());
            String said = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
            assertTrue(said.contains(bad[1]), said);
        }
        Files.writeString(progress, committed);

        Path std = work.resolve("latent_std");
        byte[] stdBytes = Files.readAllBytes(std);
        Files.write(std, Arrays.copyOf(stdBytes, 10));
        String cut = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
        assertTrue(cut.contains(std + ": 10 bytes, but") && cut.contains("committed " + stdBytes.length), cut);
        Files.write(std, stdBytes);

        Path staleAssembly = work.resolve(PreparedData.FILE + ".tmp-1234"), staleCleanUp = out.resolve(PreparedDataWriter.DONE).resolve("latent_mean");
        Files.write(staleAssembly, new byte[64]);
        Files.createDirectories(staleCleanUp.getParent());
        Files.write(staleCleanUp, new byte[64]);
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(out, data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS, 0)) {
            assertEquals(3, w.done());
            assertTrue(!Files.exists(staleAssembly) && !Files.exists(staleCleanUp.getParent()), "leftovers of a cut-short assembly and clean-up are removed");
            String busy = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
            assertTrue(busy.contains("another prepare is writing there"), busy);
            List<Integer> seen = new ArrayList<>();
            assertEquals(5, w.run(vae, clip, seen::add), "tracks left out, counted over both runs");
            assertEquals(List.of(4, 5), seen, "only the clips not yet done are encoded");
        }
        byte[] whole = Files.readAllBytes(dir.resolve("whole").resolve(PreparedData.FILE));
        assertArrayEquals(whole, Files.readAllBytes(out.resolve(PreparedData.FILE)));
        try (var left = Files.list(out)) {
            assertEquals(List.of(PreparedData.FILE), left.map(f -> f.getFileName().toString()).toList(), "no work folder, lock or temp file left");
        }

        Path asked = dir.resolve("asked");   // asked to stop (Ctrl-C) between hourly commits: commits what it encoded first
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(asked, data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS, 3_600_000)) {
            assertEquals(2, w.run(vae, clip, done -> {
                if (done == 2) w.requestStop();
            }), "stopped: the tracks left out so far, one per clip");
            assertTrue(w.stopped());
            assertEquals(2, w.done());
        }
        assertEquals(2, Json.read(asked.resolve(PreparedDataWriter.WORK).resolve(PreparedDataWriter.PROGRESS)).get("clips_done").asInt());
        assertTrue(!Files.exists(asked.resolve(PreparedData.FILE)));
        List<Integer> rest = new ArrayList<>();
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(asked, data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS, 3_600_000)) {
            w.run(vae, clip, rest::add);
            assertTrue(!w.stopped());
        }
        assertEquals(List.of(3, 4, 5), rest);
        assertArrayEquals(whole, Files.readAllBytes(asked.resolve(PreparedData.FILE)));

        Path never = dir.resolve("never");   // crashed before its first commit (every hour): starts over
        assertThrows(IllegalStateException.class, () -> prepare(never, data, WEIGHTS, 3, 3_600_000));
        List<Integer> again = new ArrayList<>();
        try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(never, data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS, 3_600_000)) {
            assertEquals(0, w.done());
            assertFalse(Files.exists(never.resolve(PreparedDataWriter.WORK)), "nothing committed: the work folder is removed as the prepare starts over");
            w.run(vae, clip, again::add);
        }
        assertEquals(List.of(1, 2, 3, 4, 5), again);
        assertArrayEquals(whole, Files.readAllBytes(never.resolve(PreparedData.FILE)));
    }

    /**
     * A prepare run again into an OUT it finished does nothing (the file untouched); with other settings it is refused
     * naming them, and so is a finished file that does not say its settings (an older engine's), rather than replaced.
     */
    /** An unfinished prepare that recorded the dataset through a symbolic link (as engines before 2026-12-04 did) continues. */
    @Test
    void anUnfinishedPrepareRecordingTheDatasetThroughALinkContinues(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 5);
        prepare(dir.resolve("whole"), data, WEIGHTS, 0);
        Path out = dir.resolve("resumed"), progress = out.resolve(PreparedDataWriter.WORK).resolve(PreparedDataWriter.PROGRESS);
        assertThrows(IllegalStateException.class, () -> prepare(out, data, WEIGHTS, 3));
        Path link = Files.createSymbolicLink(dir.resolve("link"), dir);
        ObjectNode p = (ObjectNode) Json.read(progress).deepCopy();
        ((ObjectNode) p.get("identity")).put("dataset", link.resolve("clips").toString());
        Files.write(progress, Json.bytes(p));
        prepare(out, data, WEIGHTS, 0);
        assertArrayEquals(Files.readAllBytes(dir.resolve("whole").resolve(PreparedData.FILE)), Files.readAllBytes(out.resolve(PreparedData.FILE)));
    }

    @Test
    void aFinishedPrepareIsNotRedoneNorReplacedByAnother(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 3);
        Path out = dir.resolve("p"), file = out.resolve(PreparedData.FILE);
        prepare(out, data, WEIGHTS, 0);
        byte[] first = Files.readAllBytes(file);
        FileTime written = Files.getLastModifiedTime(file);
        assertEquals(0, prepare(out, data, WEIGHTS, 1), "nothing encoded (a clip done would stop it here)");
        assertArrayEquals(first, Files.readAllBytes(file));
        assertEquals(written, Files.getLastModifiedTime(file));
        Path link = Files.createSymbolicLink(dir.resolve("link"), dir);
        assertEquals(0, prepare(out, ClipDataset.open(link.resolve("clips").resolve(".")), WEIGHTS, 1), "the same dataset through a symbolic link");
        String other = assertThrows(InputFileException.class,
                () -> prepare(out, data, Map.of("vae_sha256", "v2", "image_encoder_sha256", "c1"), 0)).getMessage();
        assertEquals(file + " holds a finished prepare of other settings (vae_sha256 \"v1\" -> \"v2\"): remove it to prepare again, or choose another --out", other);
        assertArrayEquals(first, Files.readAllBytes(file));
        try (Scope s = Scope.open()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            Map<String, String> meta;
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                for (var e : r.entries()) t.put(e.name(), r.load(e.name(), CPU));
                meta = new LinkedHashMap<>(r.metadata());
            }
            meta.remove(PreparedDataWriter.IDENTITY);
            SafetensorsWriter.write(file, meta, t);
        }
        String older = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
        assertTrue(older.contains("a finished prepare whose settings were not recorded"), older);
    }

    /**
     * An unfinished prepare beside a finished file: of other settings (left by an engine that did not refuse to start it
     * there), the file is not replaced by finishing it; of the same settings (its clean-up cut short after the file was
     * moved into OUT), nothing is encoded or assembled again and the work folder is removed.
     */
    @Test
    void anUnfinishedPrepareBesideAFinishedFileDoesNotReplaceIt(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 3);
        Path out = dir.resolve("p"), file = out.resolve(PreparedData.FILE), work = out.resolve(PreparedDataWriter.WORK);
        prepare(out, data, WEIGHTS, 0);
        byte[] first = Files.readAllBytes(file);
        Map<String, String> v2 = Map.of("vae_sha256", "v2", "image_encoder_sha256", "c1");
        Path other = dir.resolve("other");
        assertThrows(IllegalStateException.class, () -> prepare(other, data, v2, 2));
        Files.move(other.resolve(PreparedDataWriter.WORK), work);
        String msg = assertThrows(InputFileException.class, () -> prepare(out, data, v2, 0)).getMessage();
        assertEquals(file + " holds a finished prepare of other settings (vae_sha256 \"v1\" -> \"v2\"): remove it to prepare again, or choose another --out", msg);
        assertArrayEquals(first, Files.readAllBytes(file));

        PathUtils.deleteDirectory(work);
        Path same = dir.resolve("same");
        assertThrows(IllegalStateException.class, () -> prepare(same, data, WEIGHTS, 3));   // every clip committed, the file not yet written
        Files.move(same.resolve(PreparedDataWriter.WORK), work);
        assertEquals(0, prepare(out, data, WEIGHTS, 1), "nothing encoded or assembled");
        assertArrayEquals(first, Files.readAllBytes(file));
        try (var left = Files.list(out)) {
            assertEquals(List.of(PreparedData.FILE), left.map(f -> f.getFileName().toString()).toList(), "the work folder is removed");
        }
    }

    /**
     * Clips' tracks are found by the running sum of the counts: with counts (0, 3, 5), clip 1 chooses among tracks 0..2
     * and clip 2 among 3..7, and a track leaving the image is named by its clip and its index there.
     */
    @Test
    void eachClipChoosesAmongItsOwnTracks(@TempDir Path dir) throws IOException {
        Path d = write(dir, "ragged", s -> {});
        try (Scope s = Scope.open()) {   // rewrite the counts: tracks 0..2 belong to clip 1, 3..7 to clip 2, the static point to clip 2
            Map<String, Tensor> t = new LinkedHashMap<>();
            try (SafetensorsReader r = SafetensorsReader.open(d.resolve(PreparedData.FILE))) {
                for (var e : r.entries()) t.put(e.name(), r.load(e.name(), CPU));
                Tensor counts = Tensor.of(CPU, DType.F32, new int[]{CLIPS}, 0, 3, 5), statics = Tensor.of(CPU, DType.F32, new int[]{CLIPS}, 0, 0, 1);
                t.put("candidate_count", counts);
                t.put("static_count", statics);
                SafetensorsWriter.write(d.resolve(PreparedData.FILE), r.metadata(), t);
            }
        }
        try (PreparedData p = PreparedData.open(d)) {
            Set<Long> firstTracks = new HashSet<>();
            for (int clip = 1; clip <= 2; clip++)
                for (long step = 0; step < 30; step++) {
                    float[] drags = p.dragsOf(clip, 9, step, 0);
                    for (int k = 0; k < DragTensor.SLOTS; k++) {
                        float x0 = drags[k * 4] * SIZE;
                        if (x0 == 0 || x0 == 60) continue;   // an empty slot, or clip 2's static point
                        long track = Math.round((x0 - 4) / 7);
                        assertTrue(clip == 1 ? track <= 2 : track >= 3, "clip " + clip + " drew track " + track);
                        if (clip == 2) firstTracks.add(track);
                    }
                }
            assertTrue(firstTracks.size() >= 3, "clip 2 draws among its five tracks: " + firstTracks);
        }
        try (Scope s = Scope.open()) {   // clip 2's second track (global 4) moved out of a 35-pixel-wide image
            Map<String, Tensor> t = new LinkedHashMap<>();
            Map<String, String> meta;
            try (SafetensorsReader r = SafetensorsReader.open(d.resolve(PreparedData.FILE))) {
                for (var e : r.entries()) t.put(e.name(), r.load(e.name(), CPU));
                meta = new LinkedHashMap<>(r.metadata());
            }
            meta.put("image_width", "35");   // tracks 0..3 stay within x <= 35 over both frames; track 4 reaches 4 + 28 + 6 = 38
            SafetensorsWriter.write(d.resolve(PreparedData.FILE), meta, t);
        }
        String msg = refused(d);
        assertTrue(msg.contains("candidates of clip 2, track 1, leaves the 35x64 image"), msg);
    }

    @Test
    void refusesInconsistentFilesAndDataForAnotherModel(@TempDir Path dir) throws IOException {
        try (PreparedData ok = PreparedData.open(write(dir, "ok", s -> {}))) {
            assertEquals(2, ok.size());
            ok.checkFits(UNetConfig.tiny(16, 2, 8));   // in_channels 8 = 2 x 4 latent channels, cross_attention_dim 8
            String other = assertThrows(IllegalArgumentException.class, () -> ok.checkFits(UNetConfig.tiny(16, 2, 32))).getMessage();
            assertTrue(other.contains("cross_attention_dim is 32"), other);
        }
        // latents the UNet cannot take (4x4; the tiny UNet halves them three times): refused before a run begins
        try (PreparedData small = PreparedData.open(write(dir, "small", s -> {
            s.shapes().put("latent_mean", new int[]{CLIPS, FRAMES, 4, 4, CH});
            s.shapes().put("latent_std", new int[]{CLIPS, FRAMES, 4, 4, CH});
        }))) {
            String msg = assertThrows(IllegalArgumentException.class, () -> small.checkFits(UNetConfig.tiny(16, 2, 8))).getMessage();
            assertTrue(msg.contains("latents are 4x4 (from 64x64 px clips); this UNet takes square latents with a side divisible by 8"), msg);
        }
        String std = refused(write(dir, "std", s -> s.shapes().put("latent_std", new int[]{3, 2, 8, 8, 8})));
        assertTrue(std.contains(PreparedData.FILE) && std.contains("'latent_std' must have shape [3, 2, 8, 8, 4]"), std);
        String drags = refused(write(dir, "drags", s -> s.shapes().put("drags", new int[]{3, 2, 4, 5})));
        assertTrue(drags.contains("'drags' must have shape [3, 2, 5, 4]"), drags);
        String emb = refused(write(dir, "emb", s -> s.shapes().put("embedding", new int[]{3, 2, 8})));
        assertTrue(emb.contains("'embedding' must be (3, 1, embedding dim)"), emb);
        String cand = refused(write(dir, "cand", s -> s.shapes().put("candidates", new int[]{8, 3, 2})));
        assertTrue(cand.contains("'candidates' must be (tracks, 2, 2)"), cand);
        String count = refused(write(dir, "cnt", s -> s.shapes().put("candidates", new int[]{4, 2, 2})));
        assertTrue(count.contains("candidate_count[0] is 8.0, expected a whole number in 0..4"), count);
        String sum = refused(write(dir, "sum", s -> s.shapes().put("candidates", new int[]{10, 2, 2})));
        assertTrue(sum.contains("candidate_count adds up to 8 tracks, 'candidates' holds 10"), sum);
        assertTrue(refused(write(dir, "count", s -> s.meta().put("train_count", "50"))).contains("train_count is 50, expected 1..3"));
        assertTrue(refused(write(dir, "text", s -> s.meta().put("train_count", "lots"))).contains("train_count is 'lots'"));
        assertTrue(refused(write(dir, "p", s -> s.meta().put("static_drag_probability", "2"))).contains("static_drag_probability in [0, 1]"));
        String outside = refused(write(dir, "outside", s -> s.meta().put("image_width", "40")));   // candidate 5 reaches x = 46
        assertTrue(outside.contains("candidates of clip 0, track 5, leaves the 40x64 image"), outside);
        String old = refused(write(dir, "old", s -> s.meta().remove("version")));
        assertTrue(old.contains("written by an older engine") && old.contains("run ./puppet-engine prepare again"), old);
        // as an engine of 2026-12-01 wrote it: other tensors (latents, cond_latent, ...) and no version; was "no tensor 'latent_mean'"
        String first = refused(write(dir, "first", s -> {
            s.meta().keySet().retainAll(List.of("format", "train_count", "scaling_factor"));
            s.shapes().clear();
            s.shapes().put("latents", new int[]{CLIPS, FRAMES, SIDE, SIDE, CH});
            s.shapes().put("cond_latent", new int[]{CLIPS, SIDE, SIDE, CH});
            s.shapes().put("embedding", new int[]{CLIPS, 1, 8});
            s.shapes().put("drags", new int[]{CLIPS, FRAMES, DragTensor.SLOTS, 4});
        }));
        assertTrue(first.contains("written by an older engine") && first.contains("run ./puppet-engine prepare again"), first);
        String v2 = refused(write(dir, "v2", s -> s.meta().put("version", "2")));
        assertTrue(v2.contains("written by format version 2, this engine reads version 3"), v2);
        String format = refused(write(dir, "format", s -> s.meta().remove("format")));
        assertTrue(format.contains("metadata format is missing, expected 'puppet-engine-prepared'"), format);
        String zero = refused(write(dir, "zero", s -> {
            s.shapes().put("latent_mean", new int[]{3, 2, 0, 4, 4});
            s.shapes().put("latent_std", new int[]{3, 2, 0, 4, 4});
        }));
        assertTrue(zero.contains("none of them 0, got [3, 2, 0, 4, 4]"), zero);
    }

    /**
     * A NaN or an infinity in the rows a batch reads is refused naming the file, the tensor and the clip: the loss was NaN
     * and the run stopped as diverged. Clip 1 keeps its own drags (it has no candidates), so they are read too.
     */
    @Test
    void nonFiniteRowsAreRefusedNamingTheClip(@TempDir Path dir) throws IOException {
        for (String name : List.of("latent_mean", "latent_std", "embedding", "drags")) {
            Path d = write(dir, name, s -> {});
            Path file = d.resolve(PreparedData.FILE);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
                 SafetensorsReader r = SafetensorsReader.open(file)) {
                ByteBuffer header = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(header, 0);
                long rowBytes = r.entry(name).byteSize() / CLIPS;   // clip 1's third element becomes -Infinity
                ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NEGATIVE_INFINITY), 8 + header.getLong(0) + r.entry(name).begin() + rowBytes + 8);
            }
            try (PreparedData p = PreparedData.open(d); Scope s = Scope.open()) {
                p.batch(new int[]{0}, 1, 0, CPU, DType.F32);
                InputFileException e = assertThrows(InputFileException.class, () -> p.batch(new int[]{0, 1}, 1, 0, CPU, DType.F32));
                assertEquals(file + ": tensor '" + name + "' of clip 1 is not finite (element 2 of " + rowElements(name) + " is -Infinity): the file is damaged;"
                        + " remove it and prepare the clips again", e.getMessage());
            }
        }
    }

    private static int rowElements(String name) {
        return name.equals("embedding") ? 8 : name.equals("drags") ? FRAMES * DragTensor.SLOTS * 4 : FRAMES * SIDE * SIDE * CH;
    }

    /** Rewrites {@code d}'s file with {@code edit} applied to its tensors and metadata. */
    private static void rewrite(Path d, BiConsumer<Map<String, Tensor>, Map<String, String>> edit) throws IOException {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            Map<String, String> meta;
            try (SafetensorsReader r = SafetensorsReader.open(d.resolve(PreparedData.FILE))) {
                for (var e : r.entries()) t.put(e.name(), r.load(e.name(), CPU));
                meta = new LinkedHashMap<>(r.metadata());
            }
            edit.accept(t, meta);
            SafetensorsWriter.write(d.resolve(PreparedData.FILE), meta, t);
        }
    }

    /**
     * The metadata and tensors that open checks one by one, each refused naming what is wrong, and the edges that are fine:
     * train_count 1 and all the clips, static_drag_probability 0 and 1.
     */
    @Test
    void refusesEachMetadataFieldAndTensorShapeOutOfRange(@TempDir Path dir) throws IOException {
        String file = PreparedData.FILE;
        assertTrue(refused(write(dir, "fmt", s -> s.meta().put("format", "other"))).endsWith(file + ": metadata format is 'other', expected 'puppet-engine-prepared'"
                + " (a file written by ./puppet-engine prepare)"));
        for (String key : List.of("train_count", "image_width", "scaling_factor", "static_drag_probability"))
            assertTrue(refused(write(dir, "no-" + key, s -> s.meta().remove(key))).endsWith(file + ": no " + key + " in its metadata (not written by ./puppet-engine prepare)"), key);
        assertTrue(refused(write(dir, "tc0", s -> s.meta().put("train_count", "0"))).endsWith(": metadata train_count is 0, expected 1..3 (the file holds 3 clips)"));
        assertTrue(refused(write(dir, "w0", s -> s.meta().put("image_width", "0"))).endsWith(": metadata image_width is 0, expected 1..2147483647"));
        assertTrue(refused(write(dir, "sf0", s -> s.meta().put("scaling_factor", "0"))).endsWith(
                ": metadata scaling_factor must be > 0 and static_drag_probability in [0, 1], got 0.0, 0.5"));
        assertTrue(refused(write(dir, "sfx", s -> s.meta().put("scaling_factor", "big"))).endsWith(": metadata scaling_factor is 'big', expected a number"));
        for (String[] fine : new String[][]{{"train_count", "1"}, {"train_count", "3"}, {"static_drag_probability", "0"}, {"static_drag_probability", "1"}})
            PreparedData.open(write(dir, fine[0] + fine[1], s -> s.meta().put(fine[0], fine[1]))).close();

        String emb = refused(write(dir, "emb0", s -> s.shapes().put("embedding", new int[]{CLIPS, 1, 0})));
        assertTrue(emb.endsWith("'embedding' must be (3, 1, embedding dim), got [3, 1, 0]"), emb);
        assertTrue(refused(write(dir, "emb2", s -> s.shapes().put("embedding", new int[]{2, 1, 8}))).endsWith("got [2, 1, 8]"));
        assertTrue(refused(write(dir, "cand3", s -> s.shapes().put("candidates", new int[]{8, 2, 3}))).endsWith("'candidates' must be (tracks, 2, 2), got [8, 2, 3]"));
        assertTrue(refused(write(dir, "cand2", s -> s.shapes().put("candidates", new int[]{8, 4}))).endsWith("'candidates' must be (tracks, 2, 2), got [8, 4]"));
        String counts = refused(write(dir, "counts", s -> s.shapes().put("static_count", new int[]{CLIPS + 1})));
        assertTrue(counts.endsWith("'static_count' must have shape [3] (from 'latent_mean'), got [4]"), counts);

        Path ints = write(dir, "ints", s -> {});
        rewrite(ints, (t, meta) -> t.put("candidate_count", Tensor.of(CPU, DType.I32, new int[]{CLIPS}, CANDIDATES, 0, 0)));
        assertTrue(refused(ints).endsWith(": tensor 'candidate_count' is I32, expected a floating type (F32 as prepare writes)"), refused(ints));
    }

    /**
     * Latents with other channels than the UNet's in_channels / 2 are refused naming both; a model whose VAE scales otherwise
     * (beyond 1e-6 relative) is refused, and an encoder file other than the one prepare recorded is a note (sha256 shortened).
     */
    @Test
    void dataForAnotherModelsEncodersIsRefusedOrNoted(@TempDir Path dir) throws IOException {
        try (PreparedData two = PreparedData.open(write(dir, "two", s -> {
            s.shapes().put("latent_mean", new int[]{CLIPS, FRAMES, SIDE, SIDE, 2});
            s.shapes().put("latent_std", new int[]{CLIPS, FRAMES, SIDE, SIDE, 2});
        }))) {
            String msg = assertThrows(IllegalArgumentException.class, () -> two.checkFits(UNetConfig.tiny(16, 2, 8))).getMessage();
            assertTrue(msg.endsWith(": latents have 2 channels; this UNet takes 4 (in_channels / 2)"), msg);
        }
        String sha = "0123456789abcdef0123456789abcdef";
        Path d = write(dir, "sha", s -> {
            s.meta().put("vae_sha256", sha);
            s.meta().put("image_encoder_sha256", "c1");
        });
        Path file = d.resolve(PreparedData.FILE);
        try (PreparedData p = PreparedData.open(d)) {
            assertEquals(List.of(), p.checkEncoders(SCALE, sha, "c1"));
            assertEquals(List.of(), p.checkEncoders(SCALE * (1 + 0.5e-6), sha, "c1"), "within 1e-6: the same VAE");
            for (double other : new double[]{SCALE * (1 + 2e-6), SCALE * (1 - 2e-6)}) {
                String msg = assertThrows(IllegalArgumentException.class, () -> p.checkEncoders(other, sha, "c1")).getMessage();
                assertEquals(file + ": prepared with a VAE of scaling factor " + SCALE + "; this model's VAE has " + other
                        + " (another VAE): prepare the clips again with this model", msg);
            }
            String tail = ": fine if it holds the same weights in another dtype, else prepare again with this model";
            assertEquals(List.of(file + " was prepared with another VAE file (sha256 0123456789ab..., this model's fedcba987654...)" + tail,
                            file + " was prepared with another image encoder file (sha256 c1, this model's null)" + tail),
                    p.checkEncoders(SCALE, "fedcba9876543210fedcba9876543210", null));
            assertEquals(List.of(file + " was prepared with another image encoder file (sha256 c1, this model's 0123456789ab)" + tail),
                    p.checkEncoders(SCALE, sha, "0123456789ab"));
            var id = p.identity();
            assertEquals(Files.size(file), id.get("bytes").asLong());
            assertEquals(sha, id.path("metadata").path("vae_sha256").asText());
            assertEquals("3", id.path("metadata").path("version").asText());
        }
        try (PreparedData p = PreparedData.open(write(dir, "nosha", s -> {}))) {
            assertEquals(List.of(), p.checkEncoders(SCALE, "any", "thing"), "a file that recorded no checksums: nothing to compare");
        }
    }

    /** A track is in the image on its edges (0 and the width or height) and out of it past them, in x or y, in any frame. */
    @Test
    void aTrackOnTheImagesEdgeIsInside() {
        assertTrue(PreparedData.inside(new double[]{0, 0, 64, 32}, 64, 32));
        for (double[] out : new double[][]{{-1e-9, 0}, {64 + 1e-9, 0}, {0, -1e-9}, {0, 32 + 1e-9}, {1, 1, 1, 1, 70, 1}, {1, 1, 1, 1, 1, 40}})
            assertFalse(PreparedData.inside(out, 64, 32), Arrays.toString(out));
    }

    /**
     * Over 65536 tracks the check reads them a block at a time: a track leaving the image in the second block is found and
     * named by its clip (the first track of clip 2, past the empty clip 0 and clip 1's 65537).
     */
    @Test
    void aTrackLeavingTheImageIsFoundPastTheFirstBlock(@TempDir Path dir) throws IOException {
        int tracks = 65540;
        Path d = write(dir, "many", s -> {});
        rewrite(d, (t, meta) -> {
            float[] v = new float[tracks * FRAMES * 2];
            Arrays.fill(v, 10);
            v[65537 * FRAMES * 2 + 2] = 65;                 // track 65537's x in frame 1
            t.put("candidates", Tensor.of(CPU, DType.F32, new int[]{tracks, FRAMES, 2}, v));
            t.put("candidate_count", Tensor.of(CPU, DType.F32, new int[]{CLIPS}, 0, 65537, 3));
        });
        String msg = refused(d);
        assertTrue(msg.endsWith(": candidates of clip 2, track 0, leaves the 64x64 image"), msg);
        rewrite(d, (t, meta) -> meta.put("image_width", "65"));
        PreparedData.open(d).close();
    }

    /**
     * The drags a batch position draws are DragSelection's choice under a SplittableRandom seeded by 48 bits of two DRAGS-stream
     * uniforms, with the duplicate threshold of the image's mean side (here 64 x 32: 48 px): written out here as a resumed run
     * depends on it. Candidates 0.5 to 12 px apart so that the threshold decides which count as duplicates.
     */
    @Test
    void theDragsDrawnAreAFunctionOfSeedStepAndPosition(@TempDir Path dir) throws IOException {
        double[] dx = {0, 0.5, 2, 3.5, 6, 9, 12, 30};
        Path d = write(dir, "near", s -> s.meta().put("image_height", "32"));
        List<double[]> moving = new ArrayList<>();
        rewrite(d, (t, meta) -> {
            double[] v = new double[CANDIDATES * FRAMES * 2];
            for (int k = 0; k < CANDIDATES; k++) {
                double[] tr = track(FRAMES, 4 + dx[k], 10, 8 + dx[k] + k, 12);
                moving.add(tr);
                System.arraycopy(tr, 0, v, k * FRAMES * 2, tr.length);
            }
            t.put("candidates", Tensor.of(CPU, DType.F32, new int[]{CANDIDATES, FRAMES, 2}, v));
            t.put("static_candidates", Tensor.of(CPU, DType.F32, new int[]{1, FRAMES, 2}, track(FRAMES, 30, 20, 30, 20)));
        });
        List<double[]> still = List.of(track(FRAMES, 30, 20, 30, 20));
        Set<String> distinct = new HashSet<>();
        try (PreparedData p = PreparedData.open(d)) {
            for (long step = 0; step < 30; step++)
                for (int b = 0; b < 3; b++) {
                    long off = Streams.offset(step, Streams.DRAGS);
                    long bits = (long) (Philox.uniform(9, off, 2L * b) * (1L << 24)) << 24 | (long) (Philox.uniform(9, off, 2L * b + 1) * (1L << 24));
                    float[] want = DragTensor.encodePixels(DragSelection.choose(moving, still, 0.5, 48, new SplittableRandom(bits)),
                            FRAMES, 64, 32);
                    float[] got = p.dragsOf(0, 9, step, b);
                    assertArrayEquals(want, got, "step " + step + ", position " + b);
                    distinct.add(Arrays.toString(got));
                }
        }
        assertTrue(distinct.size() > 20, distinct.size() + " distinct choices in 90 draws");
    }

    /**
     * Static candidates that leave the image are left out and counted as moving ones are (kept, the finished file would be
     * refused by every training run: "static_candidates of clip 0 ... leaves the image").
     */
    @Test
    void prepareLeavesOutStaticCandidatesOutsideTheImage(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 2, 2, List.of(track(2, 31, 31, 31, 40)));
        assertEquals(4, prepare(dir.resolve("prep"), data, WEIGHTS, 0), "per clip one moving and one static track leave the 32 x 32 image");
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("prep").resolve(PreparedData.FILE)); Scope s = Scope.open()) {
            assertArrayEquals(new double[]{1, 1}, r.load("static_count", CPU, DType.F64).toDoubleArray());
        }
        PreparedData.open(dir.resolve("prep")).close();
    }

    /**
     * Encoder outputs that are not finite are refused naming the part: the posterior's std (a NaN log-variance, its mean
     * finite) and the image embedding (a NaN in the image encoder), not only the mean.
     */
    @Test
    void prepareRefusesANonFiniteStdOrEmbedding(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 1);
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        for (String part : List.of("latent_std", "embedding")) {
            Path out = dir.resolve(part);
            try (ParameterStore v = ParameterStore.initialize(vae, CPU, DType.F32, 1); ParameterStore c = ParameterStore.initialize(clip, CPU, DType.F32, 2);
                 PreparedDataWriter w = PreparedDataWriter.open(out, data, vae.scalingFactor(), CPU, DType.F32, WEIGHTS)) {
                Tensor t = part.equals("latent_std") ? v.parameters().get("quant_conv.bias").value() : c.parameters().values().iterator().next().value();
                double[] b = t.toDoubleArray();
                if (part.equals("latent_std")) Arrays.fill(b, 4, 8, Double.NaN);   // the log-variance's channels only
                else b[0] = Double.NaN;
                t.copyFrom(b);
                String said = assertThrows(IllegalArgumentException.class, () -> w.run(vae, clip, null)).getMessage();
                assertTrue(said.startsWith(ClipDataset.clipDir(data.root(), 0) + ": its " + part + " from the model's encoders is not finite (element "), said);
            }
            assertFalse(Files.exists(out.resolve(PreparedData.FILE)));
        }
    }

    /**
     * An unfinished prepare is continued only for its own dataset: one recorded as another folder (the same settings
     * otherwise) is refused as other settings, not taken for the same folder spelled otherwise; so is a progress.json whose
     * identity is no object. An empty dataset is refused before anything is made.
     */
    @Test
    void anUnfinishedPrepareOfAnotherDatasetIsNotContinued(@TempDir Path dir) throws IOException {
        ClipDataset data = dataset(dir, 3);
        Path copy = Files.createDirectories(dir.resolve("copy"));
        PathUtils.copyDirectory(data.root(), copy.resolve("clips"));
        Path out = dir.resolve("p"), progress = out.resolve(PreparedDataWriter.WORK).resolve(PreparedDataWriter.PROGRESS);
        assertThrows(IllegalStateException.class, () -> prepare(out, data, WEIGHTS, 2));
        String committed = Files.readString(progress);
        ObjectNode p = (ObjectNode) Json.mapper().readTree(committed);
        ((ObjectNode) p.get("identity")).put("dataset", copy.resolve("clips").toString());
        Files.write(progress, Json.bytes(p));
        String msg = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
        assertTrue(msg.startsWith(out.resolve(PreparedDataWriter.WORK) + " holds an unfinished prepare of other settings (dataset \"" + copy.resolve("clips").toRealPath()), msg);
        ((ObjectNode) p.get("identity")).put("dataset", dir.resolve("gone").resolve("clips").toString());   // a folder no longer there
        Files.write(progress, Json.bytes(p));
        msg = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
        assertTrue(msg.startsWith(out.resolve(PreparedDataWriter.WORK) + " holds an unfinished prepare of other settings (dataset \"" + dir.resolve("gone")), msg);
        p.put("identity", 5);
        Files.write(progress, Json.bytes(p));
        msg = assertThrows(InputFileException.class, () -> prepare(out, data, WEIGHTS, 0)).getMessage();
        assertTrue(msg.startsWith(out.resolve(PreparedDataWriter.WORK) + " holds an unfinished prepare of other settings ("), msg);
        Files.writeString(progress, committed);
        prepare(out, data, WEIGHTS, 0);
        assertTrue(Files.isRegularFile(out.resolve(PreparedData.FILE)));

        DatasetManifest none = new DatasetManifest("test/1", 1, JsonNodeFactory.instance.objectNode(), 0, 2, 32, 32, 0, true);
        try (ClipDatasetWriter w = ClipDatasetWriter.open(dir.resolve("empty"), none)) {
            w.finish();
        }
        ClipDataset empty = ClipDataset.open(dir.resolve("empty"));
        msg = assertThrows(IllegalArgumentException.class, () -> PreparedDataWriter.open(dir.resolve("pe"), empty, 0.18215, CPU, DType.F32, WEIGHTS)).getMessage();
        assertEquals(dir.resolve("empty") + ": the dataset has no clips", msg);
        assertFalse(Files.exists(dir.resolve("pe")));
    }
}
