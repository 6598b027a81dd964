package dev.puppetengine.pipeline;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LoadedModelTest {
    /** A component whose metadata config is JSON null is refused naming the file (found by fuzzing: it reached the module's constructor as null). */
    @Test
    void aNullConfigIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path vae = dir.resolve("vae.safetensors");
        SafetensorsWriter.write(vae, Map.of("format", ComponentFile.FORMAT, "layout", ComponentFile.LAYOUT, "component", "vae", "config", "null"), List.of());
        Files.writeString(dir.resolve(ModelDirectory.MANIFEST), "{\"format\": \"" + ModelDirectory.FORMAT + "\", \"version\": " + ModelDirectory.VERSION
                + ", \"components\": {\"vae\": {\"file\": \"vae.safetensors\", \"bytes\": " + Files.size(vae) + "}}}");
        String msg = assertThrows(CheckpointException.class, () -> LoadedModel.config(dir, ModelDirectory.read(dir), "vae", VaeConfig.class)).getMessage();
        assertEquals(vae + ": the vae config in its metadata is null, expected a JSON object", msg);
        msg = assertThrows(CheckpointException.class, () -> LoadedModel.config(dir, ModelDirectory.read(dir), "image_encoder", VaeConfig.class)).getMessage();
        assertEquals(dir + ": has no 'image_encoder' component", msg);
    }

    /**
     * A model directory replaced after its manifest was read (a training run exporting there while prepare reads it) is
     * refused, not loaded: its weights would have been paired with the other model's manifest and checksums.
     */
    @Test
    void aModelReplacedSinceItsManifestWasReadIsRefused(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model");
        save(model, 1, false);
        ModelDirectory.Manifest before = ModelDirectory.read(model);
        save(model, 2, true);
        String msg = assertThrows(CheckpointException.class, () -> LoadedModel.loadEncoders(model, before, CpuBackend.get(), DType.F32)).getMessage();
        assertEquals(model + ": was replaced while it was being loaded (its manifest.json changed since it was read): load it again", msg);
        LoadedModel.loadEncoders(model, ModelDirectory.read(model), CpuBackend.get(), DType.F32).close();
    }

    private static void save(Path dir, long seed, boolean force) throws Exception {
        try (LoadedModel m = LoadedModel.random(ModelPresets.named("toy"), CpuBackend.get(), DType.F32, seed)) {
            m.save(dir, "toy", "test", true, DType.F32, Map.of(), force);
        }
    }
}
