package dev.puppetengine.train.data.synthetic;

import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generating datasets on disk: contents, reproducibility to the byte, resume after damage or interruption. */
class SyntheticDatasetTest {
    private static final int COUNT = 10, SIZE = 32, F = 14;
    private static final long SEED = 99;

    private static SyntheticDataset.Result generate(Path dir, int count) throws IOException {
        return SyntheticDataset.generate(dir, count, SEED, SIZE, F, ProgressListener.NONE);
    }

    /** Every file under {@code root} (relative path -> bytes). */
    private static TreeMap<String, byte[]> files(Path root) throws IOException {
        TreeMap<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) out.put(root.relativize(p).toString(), Files.readAllBytes(p));
        }
        return out;
    }

    private static void assertSameFiles(Path a, Path b) throws IOException {
        TreeMap<String, byte[]> fa = files(a), fb = files(b);
        assertEquals(fa.keySet(), fb.keySet());
        for (String k : fa.keySet()) assertArrayEquals(fa.get(k), fb.get(k), k);
    }

    @Test
    void readsBackWhatTheGeneratorMade(@TempDir Path dir) throws IOException {
        assertEquals(new SyntheticDataset.Result(COUNT, 0), generate(dir, COUNT));
        ClipDataset ds = ClipDataset.open(dir);
        assertEquals(COUNT, ds.count());
        assertEquals(F, ds.frames());
        assertEquals(SIZE, ds.width());
        assertEquals(SIZE, ds.height());
        assertEquals(COUNT - 1, ds.trainCount(), "the last 10% of clips are the validation split");
        assertEquals(SyntheticDataset.GENERATOR, ds.manifest().generator());
        GeneratorConfig cfg = GeneratorConfig.defaults(SIZE, F);
        for (int i = 0; i < COUNT; i++) {
            ClipSample s = ds.read(i);
            SyntheticClip c = SyntheticClip.generate(SEED, i, cfg);
            assertArrayEquals(c.rgb(), s.rgb(), "frames of clip " + i);
            assertArrayEquals(c.dragTensor(), s.dragTensor(), "drags of clip " + i);
            assertEquals(c.candidates().size(), s.drags().candidates().size());
            assertEquals(c.scene().kind().id(), s.drags().info().get("kind").asText());
        }
    }

    @Test
    void theSameSeedWritesTheSameBytes(@TempDir Path a, @TempDir Path b) throws IOException {
        generate(a, COUNT);
        generate(b, COUNT);
        assertSameFiles(a, b);
    }

    @Test
    void resumeKeepsCompleteClipsAndRedoesDamagedOnes(@TempDir Path dir, @TempDir Path reference) throws IOException {
        generate(reference, COUNT);
        generate(dir, COUNT);
        Files.delete(dir.resolve("clips/000003/frame_07.png"));
        Path leftover = Files.createDirectories(dir.resolve("clips/000005.tmp-1a2b3c"));   // what an interrupted publish leaves
        Files.writeString(leftover.resolve("frame_00.png"), "half-written");
        Path untouched = dir.resolve("clips/000004/drags.json");
        BasicFileAttributes before = Files.readAttributes(untouched, BasicFileAttributes.class);

        assertEquals(new SyntheticDataset.Result(1, COUNT - 1), generate(dir, COUNT));
        assertFalse(Files.exists(leftover));
        BasicFileAttributes after = Files.readAttributes(untouched, BasicFileAttributes.class);
        assertEquals(before.fileKey(), after.fileKey(), "a complete clip is not rewritten");
        assertEquals(before.lastModifiedTime(), after.lastModifiedTime());
        assertSameFiles(reference, dir);
    }

    @Test
    void anInterruptedGenerationResumesToTheSameDataset(@TempDir Path dir, @TempDir Path reference) throws IOException {
        generate(reference, COUNT);
        RuntimeException stop = new RuntimeException("stop");
        ProgressListener interrupt = (done, total) -> { if (done == 4) throw stop; };
        assertEquals(stop, assertThrows(RuntimeException.class, () -> SyntheticDataset.generate(dir, COUNT, SEED, SIZE, F, interrupt)));
        assertTrue(assertThrows(IOException.class, () -> ClipDataset.open(dir)).getMessage().contains("incomplete"));

        SyntheticDataset.Result r = generate(dir, COUNT);
        assertEquals(COUNT, r.written() + r.skipped());
        assertTrue(r.skipped() >= 4, r + ": the clips written before the interruption are kept");
        assertSameFiles(reference, dir);
    }

    /**
     * Run again, a dataset is kept as it is; another count (it would move clips between the splits), seed or mix of scene kinds
     * is refused, and so is a negative count.
     */
    @Test
    void aDatasetRefusesAnotherCountSeedOrKindMix(@TempDir Path dir) throws IOException {
        generate(dir, 4);
        assertEquals(new SyntheticDataset.Result(0, 4), generate(dir, 4));
        String count = assertThrows(IOException.class, () -> generate(dir, 6)).getMessage();
        assertTrue(count.contains("4 clips (4 for training) vs 6 (5)"), count);
        assertEquals(4, ClipDataset.open(dir).count());
        String msg = assertThrows(IOException.class, () -> SyntheticDataset.generate(dir, 4, SEED + 1, SIZE, F, ProgressListener.NONE)).getMessage();
        assertTrue(msg.contains("seed"), msg);
        GeneratorConfig drawersOnly = GeneratorConfig.defaults(SIZE, F).withKindWeights(Map.of(SceneKind.DRAWER, 1.0));
        msg = assertThrows(IOException.class, () -> SyntheticDataset.generate(dir, 4, SEED, drawersOnly, ProgressListener.NONE)).getMessage();
        assertTrue(msg.contains("(parameters {") && msg.contains("\"kind_weights\":{\"drawer\":1.0,\"hinge\":1.0,"), msg);
        assertEquals("clip count -1 is negative", assertThrows(IllegalArgumentException.class,
                () -> SyntheticDataset.open(dir, -1, SEED, GeneratorConfig.defaults(SIZE, F))).getMessage());
    }

    /** Progress counts complete clips: resumed, from those found complete (a bar starts there), and never back over a gap. */
    @Test
    void progressCountsCompleteClips(@TempDir Path dir) throws IOException {
        List<Integer> seen = new ArrayList<>();
        SyntheticDataset.generate(dir, 3, SEED, SIZE, F, (done, total) -> { assertEquals(3, total); seen.add(done); });
        assertEquals(List.of(1, 2, 3), seen);
        Files.delete(dir.resolve("clips/000000/drags.json"));
        seen.clear();
        try (SyntheticDataset d = SyntheticDataset.open(dir, 3, SEED, GeneratorConfig.defaults(SIZE, F))) {
            assertEquals(2, d.complete());
            assertEquals(new SyntheticDataset.Result(1, 2), d.generate((done, total) -> seen.add(done)));
        }
        assertEquals(List.of(3), seen);
    }
}
