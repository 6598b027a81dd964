package dev.puppetengine.model.checkpoint;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /**
     * A weight past the written dtype's range (1e5 in fp16, as a trained model exported with --export-dtype fp16 could
     * hold) is refused when written, naming the tensor, not written as infinity for loading to refuse later.
     */
    @Test
    void aWeightPastTheDtypesRangeIsRefusedWhenWritten(@TempDir Path dir) throws Exception {
        ComponentFile.Source w = new ComponentFile.Source(new int[]{3}, () -> Tensor.of(CpuBackend.get(), DType.F32, new int[]{3}, new float[]{1, 1e5f, 2}));
        Map<String, ModelDirectory.Component> components = Map.of("vae", new ModelDirectory.Component("{}", Map.of("w", w)));
        Path out = dir.resolve("m");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F16, components, false)).getMessage();
        // named where it would have been published, not in the temporary directory that the failure deletes
        assertEquals(out.resolve("vae.safetensors") + ": tensor 'w' is not finite in F16 (element 1 of 3 is Infinity): its values are past F16's range "
                + "(write it in bf16 or fp32), or were not finite already", msg);
        assertFalse(Files.exists(out));
        assertEquals("tiny", ModelDirectory.write(out, "tiny", "test", 0, true, DType.BF16, components, false).kind());
        msg = assertThrows(CheckpointException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F16, components, true)).getMessage();
        assertTrue(msg.startsWith(out.resolve("vae.safetensors") + ": tensor 'w' is not finite in F16"), "replacing it, too: " + msg);
    }
}
