package dev.puppetengine.cli;

import dev.puppetengine.model.checkpoint.ModelDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded default: models/toy is the trained toy model (not the random one), small, and README's example runs on it. */
class ShippedModelTest {
    @Test
    void shippedToyModelIsTrainedSmallAndSamplesTheReadmeExample(@TempDir Path dir) throws Exception {
        ModelDirectory.Manifest m = ModelDirectory.read(EngineHome.defaultModel());
        assertEquals("toy", m.kind());
        assertEquals(64, m.resolution());
        long bytes = m.components().values().stream().mapToLong(ModelDirectory.Entry::bytes).sum();
        assertTrue(bytes <= 20L << 20, "models/toy must stay <= 20 MB, is " + bytes);
        Path out = dir.resolve("fish.gif");
        assertEquals(0, Main.run("sample", "--image", "examples/fish.png", "--drags", "examples/fish-drags.json", "--steps", "1", "--frames", "2",
                "--out", out.toString(), "--overlay"));
        assertTrue(Files.size(out) > 0);
    }
}
