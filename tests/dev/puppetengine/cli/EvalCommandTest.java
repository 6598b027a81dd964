package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.eval.DragError;
import dev.puppetengine.eval.EvalProgress;
import dev.puppetengine.eval.VideoScore;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.Animation;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.train.data.synthetic.ProgressListener;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvalCommandTest {
    @TempDir
    static Path tmp;
    static Path model, clips;

    @BeforeAll
    static void fixtures() throws Exception {
        model = TinyModel.write(tmp.resolve("model"));
        clips = TinyModel.clips(tmp.resolve("clips"), 2, 3);
    }

    @Test
    void scoresTheValidationClipsAndWritesTheReport() throws Exception {
        Path report = tmp.resolve("out/report.json"), gifs = tmp.resolve("gifs");
        long t0 = System.nanoTime();
        CliRun r = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--guidance", "1",
                "--out", report.toString(), "--save-gifs", gifs.toString());
        double elapsed = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, r.code(), r.err());
        String table = r.out();
        assertTrue(table.contains("000000") && table.contains("000001") && table.contains("psnr") && table.contains("+-"), table);

        assertTrue(r.err().contains("wrote " + report) && !r.err().contains("keeps the scored examples"), r.err());   // nothing failed: nothing kept
        assertEquals(1 + 2 + 1 + 6, table.lines().count(), table);   // the header, a row per example, a blank line, a summary per metric

        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("clips", j.path("data").path("kind").asText());
        // the settings it ran with, as the header records them
        assertEquals(model.toAbsolutePath().normalize().toString(), j.path("model").asText());
        assertEquals(clips.toAbsolutePath().normalize().toString(), j.path("data").path("path").asText());
        assertEquals(2, j.path("data").path("examples").asInt());
        assertEquals("the clip's frames", j.path("data").path("ground_truth").asText());
        JsonNode sampling = j.path("sampling");
        assertEquals(1, sampling.path("steps").asInt());
        assertEquals(1.0, sampling.path("guidance_max").asDouble());
        assertEquals("cpu", sampling.path("device").asText());
        assertEquals("F32", sampling.path("dtype").asText());
        assertEquals("frame 0 encoded by the model", sampling.path("conditioning").asText());
        assertEquals(ModelDirectory.read(model).components().get("unet").sha256(), j.path("unet_sha256").asText());
        double seconds = j.path("seconds").asDouble();
        assertTrue(seconds > 0 && seconds <= elapsed, "the run's seconds, within the " + elapsed + " s the command took: " + seconds);
        assertEquals(TinyModel.SIDE, j.path("resolution").asInt());
        assertEquals(2, j.path("examples").size());
        assertEquals(0, j.path("failed").size());
        for (String m : new String[]{"psnr", "ssim"}) {
            assertEquals(2, j.path("summary").path(m).path("n").asInt(), m);
            assertTrue(Double.isFinite(j.path("summary").path(m).path("mean").asDouble()), m);
        }
        JsonNode ex = j.path("examples").get(0);
        assertEquals(3, ex.path("psnr_per_frame").size());
        double ssim = ex.path("ssim").asDouble();
        assertTrue(ssim > -1 && ssim <= 1, "ssim " + ssim);
        assertEquals(ex.path("drags").asInt(), ex.path("tracks").size());
        if (ex.path("drags").asInt() > 0) {
            double px = ex.path("drag_error_px").asDouble();
            assertEquals(px / TinyModel.SIDE, ex.path("drag_error_norm").asDouble(), 1e-12);
            assertEquals(3, ex.path("tracks").get(0).size());
            assertTrue(ex.path("drag_error_gt_px").asDouble() >= 0);
        }
        assertEquals(3, GifFiles.read(gifs.resolve("000000.gif")).frames().size());
        assertEquals(TinyModel.SIDE, GifFiles.read(gifs.resolve("000001.gif")).width());
    }

    /**
     * An evaluation stopped after its first example (while writing the second's line) continues from OUT.partial.jsonl:
     * that example is not sampled again (its recorded scores, made recognisable here, reach the report), the other is;
     * the progress file then goes. Under other settings it is refused.
     */
    @Test
    void anInterruptedEvaluationContinuesWithoutSamplingAgain() throws Exception {
        String[] cmd = {"eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--guidance", "1", "--out", null};
        Path whole = tmp.resolve("resume/whole.json"), resumed = tmp.resolve("resume/resumed.json");
        cmd[cmd.length - 1] = whole.toString();
        assertEquals(0, CliRun.of(cmd).code());
        JsonNode w = Json.mapper().readTree(whole.toFile());

        ObjectNode settings = w.deepCopy();   // the report's settings: what the run records first
        settings.remove(List.of("metrics", "summary", "examples", "failed", "seconds"));
        JsonNode first = w.path("examples").get(0);
        double[] psnr = new double[first.path("psnr_per_frame").size()];
        Arrays.fill(psnr, 99);
        double[] ssim = Json.mapper().treeToValue(first.path("ssim_per_frame"), double[].class);
        DragError none = new DragError(TinyModel.SIDE, new double[]{0, Double.NaN, Double.NaN}, List.of());
        try (EvalProgress p = EvalProgress.open(resumed, settings)) {
            p.add(new VideoScore(first.path("name").asText(), 0, psnr, ssim, none, none, Map.of()));
        }
        Files.writeString(EvalProgress.fileFor(resumed), "{\"name\":\"000001\",\"psnr\":[1",   // cut short by a crash
                StandardOpenOption.APPEND);
        cmd[cmd.length - 1] = resumed.toString();
        CliRun r = CliRun.of(cmd);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("continuing an unfinished evaluation: 1 of 2 examples were scored"), r.err());
        JsonNode j = Json.mapper().readTree(resumed.toFile());
        assertEquals(99, j.path("examples").get(0).path("psnr").asDouble(), 0, "the recorded example is not sampled again");
        assertEquals(w.path("examples").get(1), j.path("examples").get(1), "the other one is scored as in the uninterrupted run");
        assertFalse(Files.exists(EvalProgress.fileFor(resumed)));

        settings.put("unet_sha256", "other");
        try (EvalProgress p = EvalProgress.open(resumed, settings)) {
            assertTrue(p.scored().isEmpty());
        }
        r = CliRun.of(cmd);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("holds an unfinished evaluation with other settings (unet_sha256 \"other\" -> "), r.err());

        // the same folder regenerated with another seed is other data, whatever its path and clip names
        settings.put("unet_sha256", w.path("unet_sha256").asText());
        assertFalse(w.path("data").path("identity").path("generator").asText().isEmpty(), w.path("data").toString());
        ((ObjectNode) settings.path("data").path("identity")).put("seed", 77);
        Files.delete(EvalProgress.fileFor(resumed));
        try (EvalProgress p = EvalProgress.open(resumed, settings)) {
            assertTrue(p.scored().isEmpty());
        }
        r = CliRun.of(cmd);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("other settings (data.identity.seed 77 -> "), r.err());
    }

    /**
     * An example that fails (its drags file broken) is not recorded: the report is written, the progress file kept with
     * the other example's line, and the same command retries only the failed one; mended, the run completes as an
     * uninterrupted one and the progress file goes.
     */
    @Test
    void aRunWithFailedExamplesKeepsItsProgressAndRetriesOnlyThem() throws Exception {
        Path copy = tmp.resolve("failing-clips"), whole = tmp.resolve("failing/whole.json"), report = tmp.resolve("failing/report.json");
        FileUtils.copyDirectory(clips.toFile(), copy.toFile());
        String[] cmd = {"eval", "--model", model.toString(), "--clips", copy.toString(), "--steps", "1", "--guidance", "1", "--out", whole.toString()};
        assertEquals(0, CliRun.of(cmd).code());
        Path drags = copy.resolve("clips/000001/drags.json");
        String good = Files.readString(drags);
        Files.writeString(drags, "{");
        cmd[cmd.length - 1] = report.toString();
        Path partial = EvalProgress.fileFor(report);
        for (int attempt = 0; attempt < 2; attempt++) {
            CliRun r = CliRun.of(cmd);
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("retries only the failed ones"), r.err());
            assertTrue(r.err().contains("wrote " + report + "; " + partial + " keeps the scored examples"), r.err());
            JsonNode failed = Json.mapper().readTree(report.toFile()).path("failed");   // the report names the failed example and why
            assertTrue(failed.toString().contains("000001") && failed.toString().contains("drags.json"), failed.toString());
            assertEquals(attempt == 1, r.err().contains("continuing an unfinished evaluation: 1 of 2 examples were scored"), r.err());
            List<String> lines = Files.readAllLines(partial);
            assertEquals(2, lines.size(), "the settings and example 000000: " + lines);
            assertTrue(lines.get(1).startsWith("{\"name\":\"000000\""), lines.get(1));
        }
        Files.writeString(drags, good);
        CliRun r = CliRun.of(cmd);
        assertEquals(0, r.code(), r.err());
        assertFalse(Files.exists(partial));
        assertEquals(Json.mapper().readTree(whole.toFile()).path("examples"), Json.mapper().readTree(report.toFile()).path("examples"));
    }

    /** {@code count} DragAMove examples: the toy batch (2 frames, tests/fixtures/make_torch_pickles.py) and a 2-frame GIF of its own. */
    private static Path dragAMove(Path dir, int count) throws Exception {
        Files.createDirectories(dir);
        for (int i = 0; i < count; i++) {
            String n = String.format(Locale.ROOT, "%05d", i);
            Files.copy(TINY_BATCH, dir.resolve(n + ".pkl"), StandardCopyOption.REPLACE_EXISTING);
            groundTruth(dir.resolve(n + ".gif"), i);
        }
        return dir;
    }

    private static final Path TINY_BATCH;

    static {
        try {
            TINY_BATCH = Path.of(EvalCommandTest.class.getResource("/dev/puppetengine/io/pickle/dragamove_tiny.pkl").toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** Two frames of a diagonal pattern that {@code shade} shifts. */
    private static void groundTruth(Path gif, int shade) throws Exception {
        List<RgbImage> frames = new ArrayList<>();
        for (int f = 0; f < 2; f++) {
            byte[] px = new byte[TinyModel.SIDE * TinyModel.SIDE * 3];
            for (int i = 0; i < px.length; i++) px[i] = (byte) ((i / 3 % TinyModel.SIDE + i / 3 / TinyModel.SIDE) * 4 + 40 * shade + 8 * f);
            frames.add(new RgbImage(TinyModel.SIDE, TinyModel.SIDE, px));
        }
        GifFiles.write(gif, new Animation(frames, List.of(100, 100)));
    }

    private static String[] evalDragAMove(Path data, Path report) {
        return new String[]{"eval", "--model", model.toString(), "--dragamove", data.toString(), "--steps", "1", "--guidance", "1", "--out", report.toString()};
    }

    /**
     * A DragAMove example that failed (a corrupt pickle) and was then repaired is scored by the same command, with the
     * other example's recorded scores kept: the report is that of an uninterrupted run on the repaired folder.
     */
    @Test
    void aRepairedDragAMoveExampleIsRetriedAndScored() throws Exception {
        Path data = dragAMove(tmp.resolve("dm-repair"), 2), whole = tmp.resolve("dm-repair-out/whole.json"), report = tmp.resolve("dm-repair-out/report.json");
        CliRun r = CliRun.of(evalDragAMove(data, whole));
        assertEquals(0, r.code(), r.err());
        Files.writeString(data.resolve("00001.pkl"), "not a pickle");
        r = CliRun.of(evalDragAMove(data, report));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("error: 00001: "), r.err());
        Files.copy(TINY_BATCH, data.resolve("00001.pkl"), StandardCopyOption.REPLACE_EXISTING);
        r = CliRun.of(evalDragAMove(data, report));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("continuing an unfinished evaluation: 1 of 2 examples were scored"), r.err());
        assertFalse(Files.exists(EvalProgress.fileFor(report)));
        assertEquals(Json.mapper().readTree(whole.toFile()).path("examples"), Json.mapper().readTree(report.toFile()).path("examples"));
    }

    /**
     * A scored DragAMove example whose files changed since is refused, naming the example and the file, with the progress
     * file left as it was: its scores describe other data. Restored, the evaluation continues.
     */
    @Test
    void aChangedScoredDragAMoveExampleIsRefusedNamingIt() throws Exception {
        Path data = dragAMove(tmp.resolve("dm-changed"), 2), report = tmp.resolve("dm-changed-out/report.json"), partial = EvalProgress.fileFor(report);
        Files.writeString(data.resolve("00001.pkl"), "not a pickle");   // fails: the progress file stays, with 00000's scores
        assertEquals(2, CliRun.of(evalDragAMove(data, report)).code());
        String progress = Files.readString(partial);
        Files.copy(TINY_BATCH, data.resolve("00001.pkl"), StandardCopyOption.REPLACE_EXISTING);
        groundTruth(data.resolve("00000.gif"), 5);
        CliRun r = CliRun.of(evalDragAMove(data, report));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("example 00000 was scored on other files") && r.err().contains("00000.gif"), r.err());
        assertFalse(r.err().contains("00000.pkl"), "the unchanged pickle is not named: " + r.err());
        assertEquals(progress, Files.readString(partial));

        groundTruth(data.resolve("00000.gif"), 0);
        r = CliRun.of(evalDragAMove(data, report));
        assertEquals(0, r.code(), r.err());
        assertEquals(2, Json.mapper().readTree(report.toFile()).path("examples").size());
    }

    /** An example never scored (the run stopped before it) is sampled with its current files, whatever they were when the run began. */
    @Test
    void aChangedUnscoredDragAMoveExampleDoesNotRefuseTheResume() throws Exception {
        Path data = dragAMove(tmp.resolve("dm-unscored"), 3), report = tmp.resolve("dm-unscored-out/report.json"), partial = EvalProgress.fileFor(report);
        Files.writeString(data.resolve("00002.pkl"), "not a pickle");   // keeps the progress file
        assertEquals(2, CliRun.of(evalDragAMove(data, report)).code());
        List<String> lines = new ArrayList<>(Files.readAllLines(partial));
        assertTrue(lines.get(2).startsWith("{\"name\":\"00001\""), lines.get(2));
        lines.remove(2);   // as if stopped before 00001 was scored
        Files.write(partial, lines);
        groundTruth(data.resolve("00001.gif"), 6);
        CliRun r = CliRun.of(evalDragAMove(data, report));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("continuing an unfinished evaluation: 1 of 3 examples were scored"), r.err());
        assertTrue(r.err().contains("error: 00002: "), r.err());
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals(List.of("00000", "00001"), List.of(j.path("examples").get(0).path("name").asText(), j.path("examples").get(1).path("name").asText()));
    }

    /** A progress file of the earlier format (one digest over the whole folder) is refused with a message that says so. */
    @Test
    void aDragAMoveProgressFileOfTheEarlierFormatIsRefusedSayingWhy() throws Exception {
        Path data = dragAMove(tmp.resolve("dm-old"), 2), report = tmp.resolve("dm-old-out/report.json"), partial = EvalProgress.fileFor(report);
        Files.writeString(data.resolve("00001.pkl"), "not a pickle");
        assertEquals(2, CliRun.of(evalDragAMove(data, report)).code());
        List<String> lines = new ArrayList<>(Files.readAllLines(partial));
        ObjectNode settings = (ObjectNode) Json.mapper().readTree(lines.get(0));
        ((ObjectNode) settings.path("data")).putObject("identity").put("examples", 2).put("files_sha256", "ab".repeat(32));
        lines.set(0, Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(settings));
        Files.write(partial, lines);
        CliRun r = CliRun.of(evalDragAMove(data, report));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(partial + " was written by an earlier version"), r.err());
        assertTrue(r.err().contains("remove it to start over"), r.err());
    }

    /** --limit takes the first examples; without --out the table on stdout is the result, and no file is said to be written. */
    @Test
    void limitTakesTheFirstExamples() throws Exception {
        CliRun r = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--guidance", "1", "--limit", "1");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("000000"), r.out().lines().filter(l -> l.startsWith("0000")).map(l -> l.split(" ")[0]).toList(), r.out());
        assertFalse(r.err().contains("wrote"), r.err());
    }

    /** The report (and its OUT.partial.jsonl) never lands in the folder the evaluation reads, nor the GIFs on DragAMove's ground truth. */
    @Test
    void refusesOutputsThatCouldReplaceItsInput() throws Exception {
        Path manifest = clips.resolve("dataset.json");
        String dataset = Files.readString(manifest);
        for (Path out : new Path[]{manifest, clips.resolve("../" + clips.getFileName() + "/dataset.json"), clips.resolve("report.json")}) {
            CliRun r = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--out", out.toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--out " + out + " is inside the input --clips " + clips + ": it could replace a file the command reads"),
                    r.err());
        }
        assertEquals(dataset, Files.readString(manifest));
        assertFalse(Files.exists(clips.resolve("report.json")));

        Path dm = Files.createDirectories(tmp.resolve("dragamove")), gif = dm.resolve("00000.gif");
        Files.writeString(dm.resolve("00000.pkl"), "pickle");
        Files.writeString(gif, "ground truth");
        CliRun overGif = CliRun.of("eval", "--model", model.toString(), "--dragamove", dm.toString(), "--steps", "1", "--out", gif.toString());
        assertEquals(2, overGif.code(), overGif.err());
        assertTrue(overGif.err().contains("is inside the input --dragamove " + dm), overGif.err());
        CliRun gifsOverGifs = CliRun.of("eval", "--model", model.toString(), "--dragamove", dm.toString(), "--steps", "1", "--save-gifs", dm + "/.");
        assertEquals(2, gifsOverGifs.code(), gifsOverGifs.err());
        assertTrue(gifsOverGifs.err().contains("--save-gifs " + dm + "/. is the input --dragamove " + dm), gifsOverGifs.err());
        assertEquals("ground truth", Files.readString(gif));
    }

    @Test
    void badInputsExitWithTwoAndOneLine() throws Exception {
        CliRun missing = CliRun.of("eval", "--model", model.toString(), "--clips", tmp.resolve("nope").toString(), "--steps", "1");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("nope"), missing.err());
        assertFalse(missing.err().contains("\tat "), "no stack trace");

        CliRun both = CliRun.of("eval", "--clips", clips.toString(), "--dragamove", clips.toString());
        assertEquals(2, both.code());
        CliRun neither = CliRun.of("eval", "--model", model.toString());
        assertEquals(2, neither.code());
        CliRun limit = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--limit", "0");
        assertEquals(2, limit.code());
        CliRun steps = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "0");
        assertEquals(2, steps.code());
        CliRun noModel = CliRun.of("eval", "--model", tmp.resolve("no-model").toString(), "--clips", clips.toString(), "--steps", "1");
        assertEquals(2, noModel.code(), noModel.err());
        CliRun outFolder = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--out", tmp.toString());
        assertEquals(2, outFolder.code(), outFolder.err());   // --out a folder: refused as such, not when the progress file beside it opens
        assertTrue(outFolder.err().contains("error: --out " + tmp + " is a directory; give a file name"), outFolder.err());
        Path file = Files.writeString(tmp.resolve("gifs-file"), "x");   // --save-gifs a file: refused as such before the model loads
        CliRun gifsFile = CliRun.of("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--save-gifs", file.toString());
        assertEquals(2, gifsFile.code(), gifsFile.err());
        assertTrue(gifsFile.err().contains("error: --save-gifs " + file + " is a file; a directory is needed here"), gifsFile.err());

        Path trainOnly = tmp.resolve("train-only");
        SyntheticDataset.generate(trainOnly, 1, 1, TinyModel.SIDE, 3, ProgressListener.NONE);   // one clip: all in the train split
        CliRun noVal = CliRun.of("eval", "--model", model.toString(), "--clips", trainOnly.toString(), "--steps", "1");
        assertEquals(2, noVal.code());
        assertTrue(noVal.err().contains("no validation clips"), noVal.err());
    }
}
