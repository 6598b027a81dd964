package dev.puppetengine.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelDirectoryTest {
    /** Found by fuzzing: a manifest.json holding just null was a NullPointerException, not a bad-manifest error. */
    @Test
    void aNullManifestIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        Path manifest = Files.writeString(dir.resolve("manifest.json"), "null");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage();
        assertTrue(msg.contains(manifest.toString()) && msg.contains("expected a JSON object"), msg);
    }

    /** A component file name that is no path (a NUL in it) is refused naming the manifest and component, not Path's bare InvalidPathException. */
    @Test
    void aComponentFileThatIsNoPathIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        Path manifest = Files.writeString(dir.resolve("manifest.json"), "{\"format\": \"" + ModelDirectory.FORMAT + "\", \"version\": " + ModelDirectory.VERSION
                + ", \"components\": {\"vae\": {\"file\": \"vae\\u0000.safetensors\"}}}");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage();
        assertTrue(msg.contains(manifest + ": component 'vae' has \"file\" \"vae\\u0000.safetensors\", not a valid file name"), msg);
    }
}
