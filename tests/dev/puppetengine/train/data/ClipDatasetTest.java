package dev.puppetengine.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.PngEncoder;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The on-disk clip format on hand-made clips: round trip, split, completeness and refusals. */
class ClipDatasetTest {
    private static final int F = 3, W = 20, H = 12;

    private static DatasetManifest manifest(int count, long seed) {
        return new DatasetManifest("test/1", seed, JsonNodeFactory.instance.objectNode().put("k", 1), count, F, W, H,
                DatasetManifest.trainCount(count, 0.25), true);
    }

    private static byte[] frames(int seed) {
        byte[] rgb = new byte[F * H * W * 3];
        new Random(seed).nextBytes(rgb);
        return rgb;
    }

    private static ClipDrags drags(int seed) {
        double[] moving = new double[2 * F], still = new double[2 * F];
        for (int f = 0; f < F; f++) {
            moving[2 * f] = 2 + seed + 1.125 * f;
            moving[2 * f + 1] = 3 + 0.001 * f;
            still[2 * f] = 15.5;
            still[2 * f + 1] = 7;
        }
        return new ClipDrags(W, H, F, List.of(moving, still), List.of(moving), List.of(still), JsonNodeFactory.instance.objectNode().put("kind", "hand"));
    }

    private static void writeAll(Path root, DatasetManifest m) throws IOException {
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, m)) {
            for (int i = 0; i < m.count(); i++) w.write(i, frames(i), drags(i));
            w.finish();
        }
    }

    @Test
    void writtenClipsReadBackExactly(@TempDir Path root) throws IOException {
        writeAll(root, manifest(4, 7));
        ClipDataset ds = ClipDataset.open(root);
        assertEquals(4, ds.count());
        assertEquals(root, ds.root());
        assertEquals(3, ds.trainCount(), "last 25% of 4 clips is 1 validation clip");
        for (int i = 0; i < 4; i++) {
            ClipSample s = ds.read(i);
            assertArrayEquals(frames(i), s.rgb());
            ClipDrags expect = drags(i);
            assertEquals(expect.drags().size(), s.drags().drags().size());
            for (int k = 0; k < expect.drags().size(); k++) assertArrayEquals(expect.drags().get(k), s.drags().drags().get(k));
            assertArrayEquals(expect.staticCandidates().get(0), s.drags().staticCandidates().get(0));
            assertArrayEquals(expect.tensor(), s.dragTensor());
            assertEquals("hand", s.drags().info().get("kind").asText());
        }
        assertTrue(Files.isRegularFile(root.resolve("clips/000002/frame_02.png")));
        assertTrue(Files.isRegularFile(root.resolve("clips/000002/drags.json")));
    }

    @Test
    void samplesConvertToEngineTensors(@TempDir Path root) throws IOException {
        writeAll(root, manifest(1, 7));
        ClipSample s = ClipDataset.open(root).read(0);
        try (Tensor rgb = s.framesTensor(CpuBackend.get()); Tensor d = s.dragsTensor(CpuBackend.get())) {
            assertArrayEquals(new int[] {F, H, W, 3}, rgb.shape());
            assertEquals(DType.U8, rgb.dtype());
            double[] v = rgb.toDoubleArray();
            for (int i = 0; i < v.length; i += 97) assertEquals(s.rgb()[i] & 0xff, v[i]);
            assertArrayEquals(new int[] {F, 5, 4}, d.shape());
            assertArrayEquals(s.dragTensor(), d.toFloatArray());
        }
    }

    @Test
    void anUnfinishedDatasetDoesNotOpen(@TempDir Path root) throws IOException {
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(2, 7))) {
            w.write(0, frames(0), drags(0));
        }
        String msg = assertThrows(IOException.class, () -> ClipDataset.open(root)).getMessage();
        assertTrue(msg.contains("incomplete"), msg);
    }

    @Test
    void aDifferentConfigurationOrCountCannotContinueADataset(@TempDir Path root) throws IOException {
        writeAll(root, manifest(2, 7));
        String msg = assertThrows(IOException.class, () -> ClipDatasetWriter.open(root, manifest(2, 8))).getMessage();
        assertTrue(msg.contains("seed 7 vs 8"), msg);
        // another count would move clips between the splits (2 clips: 1 for training; 5 clips: 4)
        msg = assertThrows(IOException.class, () -> ClipDatasetWriter.open(root, manifest(5, 7))).getMessage();
        assertTrue(msg.contains("2 clips (1 for training) vs 5 (4)") && msg.contains("write to a new directory"), msg);
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(2, 7))) { // the same configuration continues, its clips kept
            assertTrue(w.isComplete(1));
        }
    }

    /**
     * A second writer (another dataset run with the same --out) is refused while one is open: it would have removed the
     * first one's clips in progress as leftovers of a killed run, failing it.
     */
    @Test
    void aSecondWriterIsRefusedWhileOneIsOpen(@TempDir Path root) throws IOException {
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(2, 7))) {
            Path inProgress = Files.createDirectory(root.resolve("clips/000000.tmp-1f2e3d"));   // as the first writer's publish leaves it meanwhile
            String msg = assertThrows(IOException.class, () -> ClipDatasetWriter.open(root, manifest(2, 7))).getMessage();
            assertTrue(msg.contains("another dataset run is writing there") && msg.contains("dataset.lock"), msg);
            assertTrue(Files.isDirectory(inProgress), "the first writer's clip in progress kept");
            Files.delete(inProgress);
        }
        writeAll(root, manifest(2, 7));   // released by close
        assertEquals(2, ClipDataset.open(root).count());
    }

    /**
     * A writer closed by an interrupted thread (a cancelled task) with no clip in flight releases the directory: it was
     * kept locked for the JVM's life, refusing every later writer there as "another dataset run".
     */
    @Test
    void aWriterClosedWhileInterruptedReleasesTheDirectoryWhenIdle(@TempDir Path root) throws IOException {
        ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(2, 7));
        w.write(0, frames(0), drags(0));
        w.finish();   // written: its I/O threads idle, to be stopped
        Thread.currentThread().interrupt();
        try {
            w.close();
        } finally {
            assertTrue(Thread.interrupted(), "the interrupt stays set for the caller");
        }
        writeAll(root, manifest(2, 7));
        assertEquals(2, ClipDataset.open(root).count());
    }

    /** A clip's write failure (a full disk) is reported as the file system said it, naming the file, not wrapped with its class name. */
    @Test
    void aClipWriteFailureIsReportedAsItIs(@TempDir Path root) throws IOException {
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(2, 7))) {
            Path clips = ClipDataset.clipsDir(root);
            Files.delete(clips);
            Files.writeString(clips, "not a directory");   // provokes a write failure without root's tricks
            w.write(0, frames(0), drags(0));
            assertEquals(clips.toString(), assertThrows(FileAlreadyExistsException.class, w::finish).getFile());
            // the generation stops at its next clip, rather than rendering the rest for a dataset that cannot complete
            assertEquals(clips.toString(), assertThrows(FileAlreadyExistsException.class, () -> w.write(1, frames(1), drags(1))).getFile());
        }
    }

    private static ClipDrags emptyDrags(int width, int height, int frames) {
        return new ClipDrags(width, height, frames, List.of(), List.of(), List.of(), JsonNodeFactory.instance.objectNode());
    }

    @Test
    void writerRejectsClipsOfTheWrongShape(@TempDir Path root) throws IOException {
        try (ClipDatasetWriter w = ClipDatasetWriter.open(root, manifest(1, 7))) {
            assertThrows(IllegalArgumentException.class, () -> w.write(0, new byte[10], drags(0)));
            for (ClipDrags wrong : new ClipDrags[] {emptyDrags(W + 1, H, F), emptyDrags(W, H + 1, F), emptyDrags(W, H, F + 1)}) {
                String msg = assertThrows(IllegalArgumentException.class, () -> w.write(0, frames(0), wrong)).getMessage();
                assertEquals("clip 0: drags for " + wrong.frames() + " frames of " + wrong.width() + "x" + wrong.height() + ", the dataset has 3 of 20x12", msg);
            }
        }
    }

    @Test
    void readErrorsNameTheFile(@TempDir Path root) throws IOException {
        writeAll(root, manifest(2, 7));
        Path frame = root.resolve("clips/000001/frame_01.png");
        Files.write(frame, new PngEncoder().encode(new byte[5 * 5 * 3], 0, 5, 5));
        String msg = assertThrows(IOException.class, () -> ClipDataset.open(root).read(1)).getMessage();
        assertTrue(msg.contains(frame.toString()) && msg.contains("expected 20x12"), msg);
        Path json = root.resolve("clips/000000/drags.json");
        Files.writeString(json, Files.readString(json).replace("\"frames\" : 3", "\"frames\" : 4"));
        msg = assertThrows(IOException.class, () -> ClipDataset.open(root).read(0)).getMessage();
        assertTrue(msg.contains(json.toString()), msg);
    }

    /** Every mismatch between a clip's files and dataset.json is refused naming the file, in width and in height alike. */
    @Test
    void aClipDisagreeingWithTheManifestIsRefused(@TempDir Path root) throws IOException {
        writeAll(root, manifest(4, 7));
        ClipDataset ds = ClipDataset.open(root);
        Path json = root.resolve("clips/000000/drags.json");
        JsonNode drags = Json.read(json);
        for (int[] size : new int[][] {{W + 1, H}, {W, H + 1}}) {
            ObjectNode o = (ObjectNode) drags.deepCopy();
            o.putArray("image_size").add(size[0]).add(size[1]);
            Files.write(json, Json.bytes(o));
            String msg = assertThrows(IOException.class, () -> ds.read(0)).getMessage();
            assertEquals(json + ": 3 frames of " + size[0] + "x" + size[1] + ", the dataset has 3 of 20x12", msg);
        }
        // 4 frames and no tracks: nothing in the file itself is wrong, only the comparison with dataset.json's 3 frames catches it
        Files.write(json, Json.bytes(emptyDrags(W, H, F + 1).toJson()));
        assertEquals(json + ": 4 frames of 20x12, the dataset has 3 of 20x12", assertThrows(IOException.class, () -> ds.read(0)).getMessage());
        Files.delete(json);
        assertEquals(json + ": not found", assertThrows(IOException.class, () -> ds.read(0)).getMessage());
        Path frame = root.resolve("clips/000001/frame_02.png");
        Files.write(frame, new PngEncoder().encode(new byte[W * 5 * 3], 0, W, 5));
        assertEquals(frame + ": expected 20x12 pixels, found 20x5", assertThrows(IOException.class, () -> ds.read(1)).getMessage());
        Files.delete(frame);   // the dataset's fault, bad input (exit 2) as a missing drags.json is, not the environment's
        assertEquals(frame + ": not found", assertThrows(InputFileException.class, () -> ds.read(1)).getMessage());
        assertEquals("clip 4 of a dataset of 4", assertThrows(IndexOutOfBoundsException.class, () -> ds.read(4)).getMessage());
        assertEquals("clip -1 of a dataset of 4", assertThrows(IndexOutOfBoundsException.class, () -> ds.read(-1)).getMessage());
    }

    @Test
    void onlyADirectoryWithADatasetJsonOpens(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("clips.txt"), "not a dataset");
        assertEquals(file + " is a file, not a clip dataset directory", assertThrows(IOException.class, () -> ClipDataset.open(file)).getMessage());
        for (Path root : new Path[] {dir, dir.resolve("absent")})
            assertEquals(root.resolve("dataset.json") + ": not found (not a clip dataset directory)",
                    assertThrows(IOException.class, () -> ClipDataset.open(root)).getMessage());
    }

    /** frame(f) is what the VAE, prepared data and evaluation read: frame f's bytes, not another frame's, and only frames that exist. */
    @Test
    void eachFrameIsItsOwnSliceOfTheClip(@TempDir Path root) throws IOException {
        writeAll(root, manifest(1, 7));
        ClipSample s = ClipDataset.open(root).read(0);
        byte[] rgb = frames(0);
        int n = W * H * 3;
        for (int f = 0; f < F; f++) {
            RgbImage img = s.frame(f);
            assertEquals(W, img.width());
            assertEquals(H, img.height());
            assertArrayEquals(Arrays.copyOfRange(rgb, f * n, (f + 1) * n), img.pixels(), "frame " + f);
        }
        // past either end is a caller's bug: refused, not a black frame (copyOfRange pads) or another clip's bytes
        for (int f : new int[] {-1, F})
            assertEquals("Index " + f + " out of bounds for length " + F, assertThrows(IndexOutOfBoundsException.class, () -> s.frame(f)).getMessage());
    }

    /** 3 frames of 30000x30000 wrapped the clip's byte count: read(0) threw a NegativeArraySizeException. */
    @Test
    void aClipTooLargeForOneArrayIsRefusedFromTheManifest(@TempDir Path root) throws IOException {
        writeAll(root, manifest(2, 7));
        Path json = ClipDataset.manifestFile(root);
        Files.writeString(json, Files.readString(json).replace("\"width\" : 20", "\"width\" : 30000").replace("\"height\" : 12", "\"height\" : 30000"));
        String msg = assertThrows(IOException.class, () -> ClipDataset.open(root)).getMessage();
        assertEquals(json + ": fields 'frames' x 'width' x 'height' (3 x 30000 x 30000) make clips of more than 2147483639 RGB bytes, the most one clip may hold", msg);
    }

    @Test
    void aTrackPositionOutsideTheImageNamesTheFileAndThePoint(@TempDir Path root) throws IOException {
        writeAll(root, manifest(2, 7));
        Path json = root.resolve("clips/000000/drags.json");
        ObjectNode o = (ObjectNode) Json.read(json);
        ((ArrayNode) o.get("drags").get(0).get(1)).set(0, -3.0);
        Files.writeString(json, o.toString());
        String msg = assertThrows(IOException.class, () -> ClipDataset.open(root).read(0)).getMessage();
        assertTrue(msg.startsWith(json + ": drags[0][1] [-3.0,") && msg.endsWith("lies outside the 20x12 image"), msg);
    }
}
