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
}
