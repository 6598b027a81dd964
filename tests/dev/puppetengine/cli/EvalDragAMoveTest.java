package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** eval and sample-batch on the shared DragAMove test set (skipped when it is absent), one example, one step. */
class EvalDragAMoveTest {
    @TempDir
    Path tmp;

    @Test
    void evaluatesAndSamplesOneDragAMoveExample() throws Exception {
        Path data = SharedData.require("dragamove-test");
        Path model = TinyModel.write(tmp.resolve("model")), report = tmp.resolve("report.json");
        Object[] r = EvalCommandTest.run("eval", "--model", model.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1",
                "--guidance", "1", "--out", report.toString());
        assertEquals(0, r[0], (String) r[2]);
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("dragamove", j.path("data").path("kind").asText());
        JsonNode ex = j.path("examples").get(0);
        assertEquals("00000", ex.path("name").asText());
        assertEquals(14, ex.path("psnr_per_frame").size());
        assertTrue(ex.path("drags").asInt() >= 1);
        assertTrue(Double.isFinite(ex.path("drag_error_px").asDouble()));

        Path out = tmp.resolve("gifs");
        Object[] b = EvalCommandTest.run("sample-batch", "--model", model.toString(), "--dragamove", data.toString(), "--limit", "1",
                "--steps", "1", "--guidance", "1", "--out", out.toString());
        assertEquals(0, b[0], (String) b[2]);
        assertEquals(14, GifFiles.read(out.resolve("00000.gif")).frames().size());
    }

    /** --pickle-conditioning: the test batch's cond_latent and embedding, which only a model of SVD's shapes takes. */
    @Test
    void conditionsOnThePicklesLatentAndEmbeddingWhenAsked() throws Exception {
        Path data = SharedData.require("dragamove-test");
        Path small = TinyModel.write(tmp.resolve("small"));
        Object[] r = EvalCommandTest.run("eval", "--model", small.toString(), "--dragamove", data.toString(), "--limit", "1", "--pickle-conditioning");
        assertEquals(2, r[0], (String) r[2]);
        assertTrue(((String) r[2]).contains("a 32x32x4 latent and a 1024-wide embedding; this model takes 8x8x4 and 16"), (String) r[2]);
        r = EvalCommandTest.run("sample-batch", "--model", small.toString(), "--dir", tmp.toString(), "--out", tmp.resolve("o").toString(), "--pickle-conditioning");
        assertEquals(2, r[0], (String) r[2]);
        assertTrue(((String) r[2]).contains("--pickle-conditioning needs --dragamove"), (String) r[2]);

        Path wide = TinyModel.write(tmp.resolve("wide"), UNetConfig.tiny(8, 14, 1024), 256, "tiny-256-random");   // 32 x 32 latents, 1024-wide context
        Path report = tmp.resolve("report.json");
        r = EvalCommandTest.run("eval", "--model", wide.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1", "--guidance", "1",
                "--out", report.toString(), "--pickle-conditioning");
        assertEquals(0, r[0], (String) r[2]);
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("the pickle's cond_latent and embedding", j.path("sampling").path("conditioning").asText());
        assertEquals(14, j.path("examples").get(0).path("psnr_per_frame").size());
        Path encoded = tmp.resolve("encoded.json");   // the same run encoding GIF frame 0 with the model's own (random) encoders: another video
        r = EvalCommandTest.run("eval", "--model", wide.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1", "--guidance", "1",
                "--out", encoded.toString());
        assertEquals(0, r[0], (String) r[2]);
        assertNotEquals(j.path("examples").get(0).path("psnr_per_frame"), Json.mapper().readTree(encoded.toFile()).path("examples").get(0).path("psnr_per_frame"));

        Path broken = tmp.resolve("broken");   // the first example's GIF missing: reported by name, the next one still scored
        java.nio.file.Files.createDirectories(broken);
        for (String f : new String[]{"00000.pkl", "00000.png", "00001.gif", "00001.pkl", "00001.png", "00002.pkl"}) java.nio.file.Files.copy(data.resolve(f), broken.resolve(f));
        dev.puppetengine.io.image.Animation eight = GifFiles.read(data.resolve("00002.gif"));   // a GIF shorter than its pickle's drags
        GifFiles.write(broken.resolve("00002.gif"), new dev.puppetengine.io.image.Animation(eight.frames().subList(0, 8), eight.delaysMs().subList(0, 8)));
        Path partial = tmp.resolve("partial.json");
        r = EvalCommandTest.run("eval", "--model", wide.toString(), "--dragamove", broken.toString(), "--steps", "1", "--guidance", "1",
                "--out", partial.toString(), "--pickle-conditioning");
        assertEquals(2, r[0], (String) r[2]);
        assertTrue(((String) r[2]).contains("error: 00000: ") && ((String) r[2]).contains("00000.gif"), (String) r[2]);
        assertTrue(((String) r[2]).contains("00002.gif has 8 frames but 00002.pkl's drags have 14"), (String) r[2]);
        assertEquals("00001", Json.mapper().readTree(partial.toFile()).path("examples").get(0).path("name").asText());
    }
}
