package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.train.data.synthetic.ProgressListener;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

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

    /** Runs a command with stdout and stderr captured: {exit code, stdout, stderr}. */
    static Object[] run(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Object[]{code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void scoresTheValidationClipsAndWritesTheReport() throws Exception {
        Path report = tmp.resolve("out/report.json"), gifs = tmp.resolve("gifs");
        Object[] r = run("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--guidance", "1",
                "--out", report.toString(), "--save-gifs", gifs.toString());
        assertEquals(0, r[0], (String) r[2]);
        String table = (String) r[1];
        assertTrue(table.contains("000000") && table.contains("000001") && table.contains("psnr") && table.contains("+-"), table);

        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("clips", j.path("data").path("kind").asText());
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

    @Test
    void limitTakesTheFirstExamples() throws Exception {
        Path report = tmp.resolve("limited.json");
        Object[] r = run("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "1", "--guidance", "1", "--limit", "1",
                "--out", report.toString());
        assertEquals(0, r[0], (String) r[2]);
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals(1, j.path("examples").size());
        assertEquals("000000", j.path("examples").get(0).path("name").asText());
    }

    @Test
    void badInputsExitWithTwoAndOneLine() throws Exception {
        Object[] missing = run("eval", "--model", model.toString(), "--clips", tmp.resolve("nope").toString(), "--steps", "1");
        assertEquals(2, missing[0]);
        assertTrue(((String) missing[2]).contains("nope"), (String) missing[2]);
        assertFalse(((String) missing[2]).contains("\tat "), "no stack trace");

        Object[] both = run("eval", "--clips", clips.toString(), "--dragamove", clips.toString());
        assertEquals(2, both[0]);
        Object[] neither = run("eval", "--model", model.toString());
        assertEquals(2, neither[0]);
        Object[] limit = run("eval", "--model", model.toString(), "--clips", clips.toString(), "--limit", "0");
        assertEquals(2, limit[0]);
        Object[] steps = run("eval", "--model", model.toString(), "--clips", clips.toString(), "--steps", "0");
        assertEquals(2, steps[0]);
        Object[] noModel = run("eval", "--model", tmp.resolve("no-model").toString(), "--clips", clips.toString(), "--steps", "1");
        assertEquals(2, noModel[0], (String) noModel[2]);

        Path trainOnly = tmp.resolve("train-only");
        SyntheticDataset.generate(trainOnly, 1, 1, TinyModel.SIDE, 3, ProgressListener.NONE);   // one clip: all in the train split
        Object[] noVal = run("eval", "--model", model.toString(), "--clips", trainOnly.toString(), "--steps", "1");
        assertEquals(2, noVal[0]);
        assertTrue(((String) noVal[2]).contains("no validation clips"), (String) noVal[2]);
    }
}
