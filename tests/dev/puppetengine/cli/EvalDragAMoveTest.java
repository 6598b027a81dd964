package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.Animation;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
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
        CliRun r = CliRun.of("eval", "--model", model.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1",
                "--guidance", "1", "--out", report.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("dragamove", j.path("data").path("kind").asText());
        JsonNode ex = j.path("examples").get(0);
        assertEquals("00000", ex.path("name").asText());
        assertEquals(14, ex.path("psnr_per_frame").size());
        assertTrue(ex.path("drags").asInt() >= 1);
        assertTrue(Double.isFinite(ex.path("drag_error_px").asDouble()));

        Path out = tmp.resolve("gifs");
        CliRun b = CliRun.of("sample-batch", "--model", model.toString(), "--dragamove", data.toString(), "--limit", "1",
                "--steps", "1", "--guidance", "1", "--out", out.toString());
        assertEquals(0, b.code(), b.err());
        assertEquals(14, GifFiles.read(out.resolve("00000.gif")).frames().size());
    }

    /** --pickle-conditioning: the test batch's cond_latent and embedding, which only a model of SVD's shapes takes. */
    @Test
    void conditionsOnThePicklesLatentAndEmbeddingWhenAsked() throws Exception {
        Path data = SharedData.require("dragamove-test");
        Path small = TinyModel.write(tmp.resolve("small"));
        CliRun r = CliRun.of("eval", "--model", small.toString(), "--dragamove", data.toString(), "--limit", "1", "--pickle-conditioning");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("a 32x32x4 latent and a 1024-wide embedding; this model takes 8x8x4 and 16"), r.err());
        r = CliRun.of("sample-batch", "--model", small.toString(), "--dir", tmp.toString(), "--out", tmp.resolve("o").toString(), "--pickle-conditioning");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--pickle-conditioning needs --dragamove"), r.err());

        Path wide = TinyModel.write(tmp.resolve("wide"), UNetConfig.tiny(8, 14, 1024), 256, "tiny-256-random");   // 32 x 32 latents, 1024-wide context
        Path report = tmp.resolve("report.json");
        r = CliRun.of("eval", "--model", wide.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1", "--guidance", "1",
                "--out", report.toString(), "--pickle-conditioning");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.mapper().readTree(report.toFile());
        assertEquals("the pickle's cond_latent and embedding", j.path("sampling").path("conditioning").asText());
        assertEquals(14, j.path("examples").get(0).path("psnr_per_frame").size());
        Path encoded = tmp.resolve("encoded.json");   // the same run encoding GIF frame 0 with the model's own (random) encoders: another video
        r = CliRun.of("eval", "--model", wide.toString(), "--dragamove", data.toString(), "--limit", "1", "--steps", "1", "--guidance", "1",
                "--out", encoded.toString());
        assertEquals(0, r.code(), r.err());
        assertNotEquals(j.path("examples").get(0).path("psnr_per_frame"), Json.mapper().readTree(encoded.toFile()).path("examples").get(0).path("psnr_per_frame"));

        Path broken = tmp.resolve("broken");   // the first example's GIF missing: reported by name, the next one still scored
        Files.createDirectories(broken);
        for (String f : new String[]{"00000.pkl", "00000.png", "00001.gif", "00001.pkl", "00001.png", "00002.pkl"}) Files.copy(data.resolve(f), broken.resolve(f));
        Animation eight = GifFiles.read(data.resolve("00002.gif"));   // a GIF shorter than its pickle's drags
        GifFiles.write(broken.resolve("00002.gif"), new Animation(eight.frames().subList(0, 8), eight.delaysMs().subList(0, 8)));
        Path partial = tmp.resolve("partial.json");
        r = CliRun.of("eval", "--model", wide.toString(), "--dragamove", broken.toString(), "--steps", "1", "--guidance", "1",
                "--out", partial.toString(), "--pickle-conditioning");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("error: 00000: ") && r.err().contains("00000.gif"), r.err());
        assertTrue(r.err().contains("00002.gif has 8 frames but 00002.pkl's drags have 14"), r.err());
        assertEquals("00001", Json.mapper().readTree(partial.toFile()).path("examples").get(0).path("name").asText());
    }
}
