package dev.puppetengine.parity;

import dev.puppetengine.cli.Main;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.puppetengine.parity.ReferenceFixtures.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Numerical parity of the CLIP image encoder with transformers' CLIPVisionModelWithProjection (5.18.0, its default
 * sdpa attention, which stays in float64; its "eager" attention does the softmax in float32 even for a float64 model,
 * which alone moves the output by 7.2e-9): hidden 64, 2 heads of 32, 2 layers, intermediate 256, 28x28 images in 7x7 patches (17 tokens),
 * projection 24, formula weights ({@link FormulaWeights}) in a diffusers folder ({@code image_encoder/model.safetensors}
 * + config.json as transformers writes it) through {@code convert}; three normalised images -> image_embeds.
 * Bounds: F64 1e-9 (measured ~1e-15: nothing in this forward runs in float32), F32 1e-5 (the reference's own float32
 * run: 1.8e-7).
 */
class ClipReferenceParityTest {
    static Path engineClip;
    static ClipVisionConfig config;

    @BeforeAll
    static void convert(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("reference").resolve("image_encoder");
        Files.createDirectories(dir);
        Files.copy(ReferenceFixtures.path("image_encoder/config.json"), dir.resolve("config.json"));
        FormulaWeights.write(ReferenceFixtures.path("image_encoder/weights_manifest.json"), dir.resolve("model.safetensors"));
        Path out = tmp.resolve("engine");
        assertEquals(0, Main.run("convert", tmp.resolve("reference").toString(), "--preset", "toy", "--dtype", "fp32", "--out", out.toString()));
        engineClip = out.resolve("image_encoder.safetensors");
        config = Json.mapper().readValue(ReferenceFixtures.path("image_encoder/config.json").toFile(), ClipVisionConfig.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F64", "F32"})
    void imageEmbedsMatchTheReference(String precision) throws IOException {
        DType t = DType.valueOf(precision);
        double tol = t == DType.F64 ? 1e-9 : 1e-5;
        Path io = ReferenceFixtures.path("image_encoder_io.safetensors");
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(config);
        try (SafetensorsReader r = SafetensorsReader.open(engineClip); ParameterStore ps = ParameterStore.allocate(clip, CPU, t);
             Scope s = Scope.open()) {
            assertEquals(config, Json.mapper().readValue(ComponentFile.metadata(r, "image_encoder").get("config"), ClipVisionConfig.class));
            ComponentFile.load(r, ps);
            Tensor pixels = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "pixels")), t);
            ReferenceFixtures.Error e = ReferenceFixtures.error(clip.embed(pixels).toDoubleArray(), ReferenceFixtures.read(io, "image_embeds_f64").values());
            System.out.println(e.line("CLIP engine " + precision + " image_embeds"));
            assertTrue(e.relL2() < tol && e.relMax() < tol, e.line("CLIP " + precision));
        }
    }
}
