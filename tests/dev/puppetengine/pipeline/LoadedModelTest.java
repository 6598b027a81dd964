package dev.puppetengine.pipeline;

import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.vae.VaeConfig;
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
}
