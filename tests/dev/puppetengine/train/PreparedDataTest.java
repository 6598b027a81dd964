package dev.puppetengine.train;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** prepared.safetensors whose tensors disagree with each other, or with the model, are refused naming the file and the tensor. */
class PreparedDataTest {
    private static final CpuBackend CPU = CpuBackend.get();

    /** 3 clips of 2 frames, 4 x 4 latents of 4 channels, 8-wide embeddings; {@code change} edits a shape or the metadata. */
    private static Path write(Path dir, String name, java.util.function.Consumer<Map<String, int[]>> change, String trainCount) throws IOException {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("latents", new int[]{3, 2, 4, 4, 4});
        shapes.put("cond_latent", new int[]{3, 4, 4, 4});
        shapes.put("embedding", new int[]{3, 1, 8});
        shapes.put("drags", new int[]{3, 2, 5, 4});
        change.accept(shapes);
        Path d = dir.resolve(name);
        Files.createDirectories(d);
        try (Scope s = Scope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            shapes.forEach((k, v) -> tensors.put(k, CPU.empty(DType.F32, v)));
            for (Tensor t : tensors.values()) CPU.fill(t, 0.1);
            SafetensorsWriter.write(d.resolve(PreparedData.FILE), Map.of("train_count", trainCount), tensors);
        }
        return d;
    }

    private static String refused(Path d) {
        return assertThrows(IllegalArgumentException.class, () -> PreparedData.open(d).close()).getMessage();
    }

    @Test
    void refusesInconsistentFilesAndDataForAnotherModel(@TempDir Path dir) throws IOException {
        try (PreparedData ok = PreparedData.open(write(dir, "ok", m -> {}, "2"))) {
            assertEquals(2, ok.size());
            ok.checkFits(UNetConfig.tiny(16, 2, 8));   // in_channels 8 = 2 x 4 latent channels, cross_attention_dim 8
            String other = assertThrows(IllegalArgumentException.class, () -> ok.checkFits(UNetConfig.tiny(16, 2, 32))).getMessage();
            assertTrue(other.contains("cross_attention_dim is 32"), other);
        }
        String cond = refused(write(dir, "cond", m -> m.put("cond_latent", new int[]{3, 4, 4, 8}), "2"));
        assertTrue(cond.contains(PreparedData.FILE) && cond.contains("'cond_latent' must have shape [3, 4, 4, 4]"), cond);
        String drags = refused(write(dir, "drags", m -> m.put("drags", new int[]{3, 2, 4, 5}), "2"));
        assertTrue(drags.contains("'drags' must have shape [3, 2, 5, 4]"), drags);
        String emb = refused(write(dir, "emb", m -> m.put("embedding", new int[]{3, 2, 8}), "2"));
        assertTrue(emb.contains("'embedding' must be (3, 1, embedding dim)"), emb);
        assertTrue(refused(write(dir, "count", m -> {}, "50")).contains("train_count is 50, expected 1..3"));
        assertTrue(refused(write(dir, "text", m -> {}, "lots")).contains("train_count is 'lots'"));
    }
}
