package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.train.data.ClipDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SampleBatchCommandTest {
    @TempDir
    static Path tmp;
    static Path model, images;

    @BeforeAll
    static void fixtures() throws Exception {
        model = TinyModel.write(tmp.resolve("model"));
        Path clips = TinyModel.clips(tmp.resolve("clips"), 1, 3);
        images = Files.createDirectories(tmp.resolve("images"));
        Path frame = ClipDataset.frameFile(ClipDataset.clipDir(clips, 0), 0);
        for (String n : new String[]{"a.png", "b.png", "c.png"}) Files.copy(frame, images.resolve(n));
        Files.writeString(images.resolve("a-drags.json"), "{\"drags\": [{\"start\": [20, 30], \"end\": [40, 30]}]}");
        Files.writeString(images.resolve("b-drags.json"), "{\"drags\": [{\"start\": [0.2, 0.3], \"end\": [0.5, 0.3]}], \"normalized\": true}");
        Files.writeString(images.resolve("c-drags.json"), "{\"drags\": [{\"start\": [20, 30]}]}");     // malformed: no end
        Files.writeString(images.resolve("notes.txt"), "not an image");
    }

    private static CliRun batch(Path out, String... extra) {
        String[] base = {"sample-batch", "--model", model.toString(), "--dir", images.toString(), "--out", out.toString(),
                "--frames", "3", "--steps", "1", "--guidance", "1"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliRun.of(args);
    }

    @Test
    void writesOneGifPerInputReportsBadOnesAndResumes() throws Exception {
        Path out = tmp.resolve("out");
        CliRun r = batch(out);
        String err = r.err();
        assertEquals(2, r.code(), err);
        assertTrue(err.contains("c: ") && err.contains("c-drags.json") && err.contains("1 of 3 inputs failed"), err);
        assertTrue(err.contains(out + ": 2 written, 0 skipped (already there), 1 failed\n"), err);
        assertEquals(3, GifFiles.read(out.resolve("a.gif")).frames().size());
        assertEquals(TinyModel.SIDE, GifFiles.read(out.resolve("b.gif")).width());
        assertFalse(Files.exists(out.resolve("c.gif")));

        FileTime aTime = FileTime.fromMillis(0);
        Files.setLastModifiedTime(out.resolve("a.gif"), aTime);
        Files.writeString(images.resolve("c-drags.json"), "{\"drags\": [{\"start\": [20, 30], \"end\": [30, 40]}]}");
        Path cut = Files.write(out.resolve("c.gif.tmp-5d"), new byte[1 << 20]);   // as a kill during c's write leaves it: named, not removed
        try {
            CliRun again = batch(out);
            assertEquals(0, again.code(), again.err());
            assertTrue(again.err().contains("1 written, 2 skipped"), again.err());
            assertTrue(again.err().contains("note: in " + out + ": 1 leftover of writes cut short (a kill or crash), 1.0 MiB: c.gif.tmp-5d;"), again.err());
            Files.delete(cut);
            assertEquals(aTime, Files.getLastModifiedTime(out.resolve("a.gif")), "existing outputs are kept");
            assertTrue(Files.exists(out.resolve("c.gif")));
            try (var s = Files.list(out)) {
                assertEquals(List.of("a.gif", "b.gif", "c.gif", SampleBatchCommand.SETTINGS), s.map(p -> p.getFileName().toString()).sorted().toList(),
                        "no temporary files left");
            }
            CliRun done = batch(out);   // nothing left to do: said without loading the model
            assertEquals(0, done.code(), done.err());
            assertEquals("all 3 outputs already exist in " + out, done.err().strip());
        } finally {
            Files.writeString(images.resolve("c-drags.json"), "{\"drags\": [{\"start\": [20, 30]}]}");
        }
    }

    /**
     * A resume under other settings is refused while videos of the first are there, naming what differs (it said "already
     * exist" and kept them); an empty file or a folder under a video's name is no video; videos of an engine that kept no
     * record are taken as done, with a note.
     */
    @Test
    void aResumeUnderOtherSettingsIsRefusedAndOnlyWholeVideosCountAsDone() throws Exception {
        Path out = tmp.resolve("settings");
        assertEquals(0, batch(out, "--limit", "1").code());
        Path settings = out.resolve(SampleBatchCommand.SETTINGS);
        assertEquals(3, Json.read(settings).path("sampling").path("frames").asInt());
        for (String[] other : new String[][]{{"--guidance-min", "2"}, {"--overlay"}, {"--seed", "7"}, {"--fps", "5"}}) {
            CliRun r = batch(out, cat(new String[]{"--limit", "1"}, other));
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().startsWith("error: --out " + out + " holds 1 of these videos, sampled with other settings ("), r.err());
            assertTrue(r.err().contains("; choose another --out, or remove those videos to sample them anew"), r.err());
        }
        assertTrue(batch(out, "--limit", "1", "--seed", "7").err().contains("sampling.seed 0 -> 7"));
        FileTime before = Files.getLastModifiedTime(out.resolve("a.gif"));
        assertEquals("all 1 outputs already exist in " + out, batch(out, "--limit", "1").err().strip());   // the same settings: done
        // an empty a.gif (a user's touch) is no video: sampled, now under other settings, which are recorded
        Files.write(out.resolve("a.gif"), new byte[0]);
        CliRun redo = batch(out, "--limit", "1", "--seed", "7");
        assertEquals(0, redo.code(), redo.err());
        assertTrue(GifFiles.read(out.resolve("a.gif")).frames().size() == 3 && Json.read(settings).path("sampling").path("seed").asInt() == 7);
        // no record (an engine before it): the videos are kept as done, with a note, and the record written
        Files.delete(settings);
        Files.setLastModifiedTime(out.resolve("a.gif"), before);
        CliRun old = batch(out, "--limit", "1");
        assertEquals(0, old.code(), old.err());
        assertTrue(old.err().contains("note: " + out + " holds 1 of these videos and no record of their settings"), old.err());
        assertEquals(before, Files.getLastModifiedTime(out.resolve("a.gif")));
        assertEquals(0, Json.read(settings).path("sampling").path("seed").asInt());
    }

    private static String[] cat(String[] a, String[] b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** SIGTERM part way through a batch: exit 143 with a note that what was written stays and the same command continues. */
    @Test
    void aSignalSaysTheSameCommandContinues() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("many")), out = tmp.resolve("many-out"), log = tmp.resolve("many.log");
        for (int i = 0; i < 30; i++) {   // far more work than the signal takes to arrive once the first GIF is there
            Files.copy(images.resolve("a.png"), dir.resolve(i + ".png"));
            Files.copy(images.resolve("a-drags.json"), dir.resolve(i + "-drags.json"));
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "sample-batch",
                "--model", model.toString(), "--dir", dir.toString(), "--out", out.toString(), "--frames", "3", "--steps", "20", "--guidance", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();   // a file: destroy() closes the pipes
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && !Files.exists(out.resolve("0.gif")) && System.nanoTime() < deadline) Thread.sleep(20);
        assertTrue(p.isAlive() && Files.exists(out.resolve("0.gif")), "the batch ended, or wrote nothing in 2 minutes, before the signal");
        p.destroy();   // SIGTERM
        int code = p.waitFor();
        String said = Files.readString(log);
        assertEquals(143, code, said);
        assertTrue(said.contains("stopped: " + out + " keeps the videos written so far; the same command continues"), said);
    }

    /** A second run on an --out being written is refused (it would sample the same missing videos again), naming the lock. */
    /** A sample that decoded all NaN is a failed input (its black GIF is not written as a result), named with why. */
    @Test
    void aBlankSampleIsAFailedInput() throws Exception {
        Path broken = TinyModel.writeDecodingNaN(tmp.resolve("nan-model")), out = tmp.resolve("nan-out");
        CliRun r = CliRun.of("sample-batch", "--model", broken.toString(), "--dir", images.toString(), "--out", out.toString(),
                "--frames", "3", "--steps", "1", "--guidance", "1", "--limit", "1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("a: every decoded value was NaN or infinite") && r.err().contains("1 of 1 inputs failed"), r.err());
        assertFalse(Files.exists(out.resolve("a.gif")));
    }

    @Test
    void aSecondRunOnTheSameOutIsRefused() throws Exception {
        Path out = tmp.resolve("locked-out");
        try (LockFile first = LockFile.acquire(out.resolve(SampleBatchCommand.LOCK), "held by the test")) {
            CliRun r = batch(out, "--limit", "1");
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains(out + ": another sample-batch is writing there; wait for it to end or choose another --out ("
                    + out.resolve(SampleBatchCommand.LOCK) + " is locked)"), r.err());
            assertFalse(Files.exists(out.resolve("a.gif")));
        }
        CliRun after = batch(out, "--limit", "1");
        assertEquals(0, after.code(), after.err());
        assertTrue(Files.exists(out.resolve("a.gif")));
        assertFalse(Files.exists(out.resolve(SampleBatchCommand.LOCK)), "released and removed at the end");
    }

    @Test
    void anImageWithoutDragsFileFailsAndLimitTakesTheFirstInputs() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lonely"));
        Files.copy(images.resolve("a.png"), dir.resolve("x.png"));
        Files.copy(images.resolve("a.png"), dir.resolve("y.png"));
        Path out = tmp.resolve("lonely-out");
        CliRun r = CliRun.of("sample-batch", "--model", model.toString(), "--dir", dir.toString(), "--out", out.toString(),
                "--frames", "3", "--steps", "1", "--guidance", "1", "--limit", "1");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("x-drags.json") && r.err().contains("1 of 1 inputs failed"), r.err());
        assertFalse(Files.exists(out.resolve("x.gif")));
    }

    /** A file given where a directory of inputs is expected is said to be a file, not "no such directory". */
    @Test
    void aFileGivenAsTheInputDirectoryIsSaidToBeAFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file.png"), "x");
        assertEquals("error: " + file + " is a file, not a directory of images", CliRun.stderrOf(2, "sample-batch", "--model", model.toString(),
                "--dir", file.toString(), "--out", tmp.resolve("o5").toString()).strip());
        assertEquals("error: " + file + " is a file, not a directory of DragAMove test examples (NNNNN.pkl + NNNNN.gif)",
                CliRun.stderrOf(2, "sample-batch", "--model", model.toString(), "--dragamove", file.toString(), "--out", tmp.resolve("o6").toString()).strip());
    }

    @Test
    void unusableDirectoriesExitWithTwo() throws Exception {
        CliRun none = CliRun.of("sample-batch", "--model", model.toString(), "--dir", tmp.resolve("nope").toString(),
                "--out", tmp.resolve("o1").toString());
        assertEquals(2, none.code());
        assertTrue(none.err().contains("nope"), none.err());
        CliRun empty = CliRun.of("sample-batch", "--model", model.toString(), "--dir", Files.createDirectories(tmp.resolve("empty")).toString(),
                "--out", tmp.resolve("o2").toString());
        assertEquals(2, empty.code());
        assertTrue(empty.err().contains("no images"), empty.err());
        CliRun noDragAMove = CliRun.of("sample-batch", "--dragamove", tmp.resolve("nope").toString(), "--out", tmp.resolve("o3").toString());
        assertEquals(2, noDragAMove.code());
        Path in = Files.createDirectories(tmp.resolve("in-and-out"));   // its outputs would be read back as inputs on the next run
        CliRun same = CliRun.of("sample-batch", "--model", model.toString(), "--dir", in.toString(), "--out", in.resolve(".").toString());
        assertEquals(2, same.code());
        assertTrue(same.err().contains("--out " + in.resolve(".") + " is the input --dir " + in + ": writing it would replace the input"), same.err());
        CliRun sameDragAMove = CliRun.of("sample-batch", "--model", model.toString(), "--dragamove", in.toString(), "--out", in.toString());
        assertEquals(2, sameDragAMove.code());
        assertTrue(sameDragAMove.err().contains("is the input --dragamove " + in), sameDragAMove.err());
        CliRun frames = CliRun.of("sample-batch", "--model", model.toString(), "--dragamove", in.toString(), "--out", tmp.resolve("o4").toString(),
                "--frames", "8");
        assertEquals(2, frames.code());
        assertTrue(frames.err().contains("--frames does not apply to --dragamove"), frames.err());
    }

    /** --fps, --pickle-conditioning without --dragamove, and an --out that is a file are refused before any work, naming the option. */
    @Test
    void badOptionsAreRefusedBeforeAnyWork() throws Exception {
        Path aFile = Files.writeString(tmp.resolve("out-file"), "x");
        assertEquals("error: --fps must be >= 1", batch(tmp.resolve("o7"), "--fps", "0").err().strip());
        assertEquals("error: --pickle-conditioning needs --dragamove (only the DragAMove test batches carry conditioning)",
                batch(tmp.resolve("o8"), "--pickle-conditioning").err().strip());
        CliRun r = batch(aFile);
        assertEquals(2, r.code(), r.err());
        assertEquals("error: --out " + aFile + " is a file; a directory is needed here", r.err().strip());
        Path noModel = tmp.resolve("o9/deeper");   // a --model that is none: refused before --out and its folders are made
        CliRun absent = CliRun.of("sample-batch", "--model", tmp.resolve("nothing").toString(), "--dir", images.toString(), "--out", noModel.toString());
        assertEquals(2, absent.code(), absent.err());
        assertTrue(absent.err().contains(tmp.resolve("nothing") + ": no such model directory"), absent.err());
        assertFalse(Files.exists(tmp.resolve("o7")) || Files.exists(tmp.resolve("o8")) || Files.exists(tmp.resolve("o9")));
    }

    /** A full disk fails every output alike: the batch stops at the first write that fails, not sampling every other input in vain. */
    @Test
    void anOutputThatCannotBeWrittenEndsTheBatch() throws Exception {
        AtomicInteger writes = new AtomicInteger();
        try (PuppetMaster pm = PuppetMaster.load(model, CpuBackend.get(), DType.F32)) {
            IOException e = assertThrows(IOException.class, () -> BatchRun.run(pm, new ImageDirSource(images, 3, false), List.of("a", "b"),
                    ex -> new SamplingOptions(1, 1, 1, 0, 3, true), false, 1, "sampling", (ex, r) -> {
                        writes.incrementAndGet();
                        throw new IOException("writing " + ex.name() + ".gif: No space left on device");
                    }));
            assertEquals("writing a.gif: No space left on device", e.getMessage());
        }
        assertEquals(1, writes.get(), "b is not sampled after a's write failed");
    }

    /**
     * One bar over every input's steps, ended full even when the last input fails before sampling (its steps are counted
     * done, from its own base): 2 inputs of 2 steps, the second without a drags file, end on "4/4 steps" naming the second
     * as 2 of 2, and b's failure said as it happens. Into a pipe the bar writes its first and its last line (ProgressBars),
     * so only those are checked.
     */
    @Test
    void theBarCountsEveryInputsStepsAndEndsFullAfterAFailedLastInput() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("bar-in")), out = tmp.resolve("bar-out");
        Files.copy(images.resolve("a.png"), dir.resolve("a.png"));
        Files.copy(images.resolve("a-drags.json"), dir.resolve("a-drags.json"));
        Files.copy(images.resolve("a.png"), dir.resolve("b.png"));   // no b-drags.json: b fails as it is read
        CliRun r = CliRun.of("sample-batch", "--model", model.toString(), "--dir", dir.toString(), "--out", out.toString(),
                "--frames", "3", "--steps", "2", "--guidance", "1");
        assertEquals(2, r.code(), r.err());
        List<String> bar = r.err().lines().filter(l -> l.startsWith("sampling ")).toList();
        assertTrue(bar.get(0).contains(" 0/4 steps"), r.err());   // drawn as the bar opens, before any input's name
        String last = bar.get(bar.size() - 1);
        assertTrue(last.startsWith("sampling 100%") && last.contains(" 4/4 steps") && last.endsWith(" b (2/2)"), r.err());
        assertTrue(Files.exists(out.resolve("a.gif")) && r.err().contains("1 of 2 inputs failed"), r.err());
        // said as it happens too, not only in the report at the end
        assertTrue(r.err().lines().anyMatch(l -> l.equals("error: b: " + dir.resolve("b-drags.json") + ": no drags file next to b.png")), r.err());
    }

    /** --limit takes the first names (all when it is more, refused below 1); the exit code is 2 when any input failed, each named on stderr. */
    @Test
    void limitTakesTheFirstNamesAndTheReportNamesEachFailure() {
        List<String> names = List.of("a", "b", "c");
        assertEquals(names, BatchRun.first(names, null));
        assertEquals(List.of("a"), BatchRun.first(names, 1));
        assertEquals(names, BatchRun.first(names, 4));
        assertEquals("--limit must be >= 1, got 0", assertThrows(UserError.class, () -> BatchRun.first(names, 0)).getMessage());
        assertEquals("", CliRun.stderrDuring(() -> assertEquals(0, BatchRun.report(List.of(), 3))));
        assertEquals("error: 1 of 3 inputs failed:\n  b: bad drags\n",
                CliRun.stderrDuring(() -> assertEquals(2, BatchRun.report(List.of(new BatchRun.Failure("b", "bad drags")), 3))));
    }
}
