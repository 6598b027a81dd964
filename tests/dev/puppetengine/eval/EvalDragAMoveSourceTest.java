package dev.puppetengine.eval;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.DragAMoveBatch;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.image.Animation;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvalDragAMoveSourceTest {

    /** (1, F=3, K=3, 4): slot 0 moves right, slot 1 is absent (all zeros), slot 2 stays still. */
    @Test
    void presentSlotsBecomeTrajectories() {
        float[] d = new float[3 * 3 * 4];
        for (int f = 0; f < 3; f++) {
            int o = f * 12;
            d[o] = 0.25f; d[o + 1] = 0.5f; d[o + 2] = 0.25f + 0.125f * f; d[o + 3] = 0.5f;
            d[o + 8] = 0.75f; d[o + 9] = 0.125f; d[o + 10] = 0.75f; d[o + 11] = 0.125f;
        }
        List<DragPath> p = DragAMoveSource.drags(d, 3, 3);
        assertEquals(2, p.size());
        assertArrayEquals(new double[]{0.25, 0.375, 0.5}, p.get(0).xs(), 1e-7);
        assertArrayEquals(new double[]{0.5, 0.5, 0.5}, p.get(0).ys(), 1e-7);
        assertArrayEquals(new double[]{0.75, 0.75, 0.75}, p.get(1).xs(), 1e-7);
    }

    /** (1, F=3, K=2, 4): slot 0 absent; slot 1 a drag from the top-left corner, all zeros in frame 0 only, is a drag. */
    @Test
    void aDragFromTheCornerIsPresent() {
        float[] d = new float[3 * 2 * 4];
        for (int f = 1; f < 3; f++) {
            d[(f * 2 + 1) * 4 + 2] = 0.25f * f;
            d[(f * 2 + 1) * 4 + 3] = 0.125f * f;
        }
        List<DragPath> p = DragAMoveSource.drags(d, 3, 2);
        assertEquals(1, p.size());
        assertArrayEquals(new double[]{0, 0.25, 0.5}, p.get(0).xs());
        assertArrayEquals(new double[]{0, 0.125, 0.25}, p.get(0).ys());
    }

    /**
     * The toy batch (tests/fixtures/make_torch_pickles.py: drags = arange(24) / 32 as (1, 2, 3, 4)) beside a GIF of its
     * own: each slot starts at frame 0's start (x, y) = (4k, 4k + 1) / 32, not at frame 0's target (4k + 2, 4k + 3) / 32,
     * and ends at frame 1's target (12 + 4k + 2, 12 + 4k + 3) / 32. A GIF of fewer frames than the drags is refused.
     */
    @Test
    void loadsTheToyBatchAndRefusesAShorterGif(@TempDir Path tmp) throws Exception {
        Files.copy(Path.of(getClass().getResource("/dev/puppetengine/io/pickle/dragamove_tiny.pkl").toURI()), tmp.resolve("00000.pkl"));
        RgbImage first = MetricsTest.grey(8, 8, (x, y) -> 8 * x), second = MetricsTest.grey(8, 8, (x, y) -> 8 * y);
        GifFiles.write(tmp.resolve("00000.gif"), new Animation(List.of(first, second), List.of(100, 100)));
        Example ex = new DragAMoveSource(tmp).load("00000");
        assertEquals(2, ex.groundTruth().size());
        assertEquals(ex.groundTruth().get(0), ex.image());
        assertEquals(3, ex.drags().size());
        for (int k = 0; k < 3; k++) {
            assertArrayEquals(new double[]{4 * k / 32.0, (14 + 4 * k) / 32.0}, ex.drags().get(k).xs(), "slot " + k);
            assertArrayEquals(new double[]{(4 * k + 1) / 32.0, (15 + 4 * k) / 32.0}, ex.drags().get(k).ys(), "slot " + k);
        }
        assertEquals(2, ex.precomputed().side());
        assertEquals("88c2bb80708893825f9e982caac9d5cfaf59cab6dbe778390388d4f2a9e26154", ex.files().get("00000.pkl"));   // sha256sum of the fixture

        GifFiles.write(tmp.resolve("00000.gif"), new Animation(List.of(first), List.of(100)));
        String msg = assertThrows(InputFileException.class, () -> new DragAMoveSource(tmp).load("00000")).getMessage();
        assertEquals(tmp.resolve("00000.gif") + " has 1 frames but 00000.pkl's drags have 2", msg);
    }

    /** A file, a missing folder and a folder without pickles are each refused saying which. */
    @Test
    void refusesWhatIsNoFolderOfExamples(@TempDir Path tmp) throws Exception {
        Path file = Files.writeString(tmp.resolve("00000.pkl"), "x"), empty = Files.createDirectory(tmp.resolve("empty"));
        Files.writeString(empty.resolve("00000.gif"), "x");
        assertEquals(file + " is a file, not a directory of DragAMove test examples (NNNNN.pkl + NNNNN.gif)",
                assertThrows(InputFileException.class, () -> new DragAMoveSource(file)).getMessage());
        assertEquals("no such DragAMove directory", assertThrows(NoSuchFileException.class, () -> new DragAMoveSource(tmp.resolve("nope"))).getReason());
        assertEquals(empty + ": no .pkl files (expected the DragAMove test examples NNNNN.pkl + NNNNN.gif)",
                assertThrows(InputFileException.class, () -> new DragAMoveSource(empty)).getMessage());
    }

    @Test
    void readsTheSharedTestExamples() throws Exception {
        Path dir = SharedData.require("dragamove-test");
        DragAMoveSource src = new DragAMoveSource(dir);
        assertEquals(100, src.names().size());
        assertEquals("00000", src.names().get(0));
        Example ex = src.load("00000");
        assertEquals(14, ex.groundTruth().size());
        assertEquals(512, ex.image().width());
        assertEquals(ex.groundTruth().get(0), ex.image());
        assertEquals(14, ex.drags().get(0).xs().length);
        for (DragPath p : ex.drags()) assertEquals(0, p.xs()[0] * 512 % 1, 1e-3, "integer pixels of the 512 render");   // spec 7
        try (Scope s = Scope.open()) {   // the pickle's conditioning, channels-last
            DragAMoveBatch b = DragAMoveBatch.read(dir.resolve("00000.pkl"), CpuBackend.get());
            float[] nchw = b.condLatent().toFloatArray(), nhwc = ex.precomputed().latent();
            assertEquals(32, ex.precomputed().side());
            assertEquals(4, ex.precomputed().channels());
            for (int c = 0; c < 4; c++)
                for (int p = 0; p < 32 * 32; p += 97) assertEquals(nchw[c * 1024 + p], nhwc[p * 4 + c], 0, "channel " + c + " pixel " + p);
            assertArrayEquals(b.embedding().toFloatArray(), ex.precomputed().embedding());
        }
        assertThrows(NoSuchFileException.class, () -> new DragAMoveSource(dir.resolve("nope")));
    }

    /** A GIF longer than its pickle's drags is refused as a shorter one is, naming the pickle the frame count comes from. */
    /** A Mac's "._NNNNN.pkl" resource forks (not pickles) are not examples, nor other hidden files. */
    @Test
    void hiddenFilesAreNotExamples(@TempDir Path tmp) throws Exception {
        for (String n : new String[]{"00000.pkl", "00000.gif", "._00000.pkl", "._00000.gif", ".00001.pkl"}) Files.write(tmp.resolve(n), new byte[] {0, 5, 22, 7});
        assertEquals(List.of("00000"), new DragAMoveSource(tmp).names());
    }

    @Test
    void aGifWithMoreFramesThanTheDragsNamesThePickle(@TempDir Path tmp) throws Exception {
        Path dir = SharedData.require("dragamove-test");
        Files.copy(dir.resolve("00000.pkl"), tmp.resolve("00000.pkl"));
        Animation gif = GifFiles.read(dir.resolve("00000.gif"));
        List<RgbImage> frames = new ArrayList<>(gif.frames());
        frames.add(frames.get(0));
        List<Integer> delays = new ArrayList<>(gif.delaysMs());
        delays.add(delays.get(0));
        GifFiles.write(tmp.resolve("00000.gif"), new Animation(frames, delays));
        String msg = assertThrows(InputFileException.class, () -> new DragAMoveSource(tmp).load("00000")).getMessage();
        assertEquals(tmp.resolve("00000.gif") + " has 15 frames but 00000.pkl's drags have 14", msg);
    }

    /**
     * The identity is which examples there are; each example's files have their own digests, which loading records: a file
     * replaced in place changes its example's digests only.
     */
    @Test
    void identityNamesTheExamplesAndEachExampleDigestsItsFiles(@TempDir Path tmp) throws Exception {
        Path dir = SharedData.require("dragamove-test");
        for (String n : new String[]{"00000", "00001"})
            for (String ext : new String[]{".pkl", ".gif"}) Files.copy(dir.resolve(n + ext), tmp.resolve(n + ext));
        DragAMoveSource src = new DragAMoveSource(tmp);
        var identity = src.identity();
        assertEquals(2, identity.path("examples").asInt());
        assertTrue(identity.path("names_sha256").asText().matches("[0-9a-f]{64}"), identity.toString());
        Map<String, String> zero = src.files("00000"), one = src.files("00001");
        assertEquals(List.of("00001.pkl", "00001.gif"), List.copyOf(one.keySet()));
        assertEquals(ModelDirectory.sha256(tmp.resolve("00001.gif")), one.get("00001.gif"));
        assertEquals(one, src.load("00001").files());

        Files.copy(dir.resolve("00002.gif"), tmp.resolve("00001.gif"), StandardCopyOption.REPLACE_EXISTING);
        src = new DragAMoveSource(tmp);
        assertEquals(identity, src.identity(), "a GIF replaced in place is the same set of examples");
        assertEquals(zero, src.files("00000"));
        assertEquals(one.get("00001.pkl"), src.files("00001").get("00001.pkl"));
        assertNotEquals(one.get("00001.gif"), src.files("00001").get("00001.gif"));
        Files.delete(tmp.resolve("00001.gif"));
        assertEquals("missing", src.files("00001").get("00001.gif"));

        Files.copy(dir.resolve("00002.pkl"), tmp.resolve("00002.pkl"));
        assertNotEquals(identity, new DragAMoveSource(tmp).identity(), "an example more");
        Files.move(tmp.resolve("00002.pkl"), tmp.resolve("00003.pkl"));
        assertNotEquals(identity.path("names_sha256"), new DragAMoveSource(tmp).identity().path("names_sha256"), "an example renamed");
    }
}
