package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A UNet trained on the unscaled noisy latent says so in its manifest (unet_input), and sampling then feeds it that
 * way without being told: the same video as the same weights sampled with scaling turned off.
 */
class UNetInputTest {
    @Test
    void aModelMarkedUnscaledIsSampledUnscaled(@TempDir Path dir) throws Exception {
        Path scaled = TinyModel.write(dir.resolve("scaled"));
        assertFalse(Files.readString(scaled.resolve(ModelDirectory.MANIFEST)).contains("unet_input"), "absent by default: scaled by c_in");
        Path unscaled = dir.resolve("unscaled");
        FileUtils.copyDirectory(scaled.toFile(), unscaled.toFile());
        setUNetInput(unscaled, "unscaled");

        byte[] rgb = new byte[64 * 64 * 3];
        new Random(3).nextBytes(rgb);
        RgbImage image = new RgbImage(64, 64, rgb);
        List<DragPath> drags = List.of(DragPath.line(0.3, 0.5, 0.6, 0.5));
        SamplingOptions opts = SamplingOptions.defaults().withSteps(2).withFrames(14);
        try (PuppetMaster a = PuppetMaster.load(scaled, CpuBackend.get(), DType.F32); PuppetMaster b = PuppetMaster.load(unscaled, CpuBackend.get(), DType.F32)) {
            assertTrue(a.scalesInput(opts));
            assertFalse(b.scalesInput(opts));
            List<RgbImage> off = a.sample(image, drags, opts.withScaleInput(false), null).frames(), marked = b.sample(image, drags, opts, null).frames(),
                    on = a.sample(image, drags, opts, null).frames();
            for (int f = 0; f < off.size(); f++) assertArrayEquals(off.get(f).pixels(), marked.get(f).pixels(), "frame " + f);
            assertFalse(Arrays.equals(on.get(13).pixels(), marked.get(13).pixels()), "scaling the input changes the video");
        }

        setUNetInput(unscaled, "raw");
        CheckpointException e = assertThrows(CheckpointException.class, () -> ModelDirectory.read(unscaled));
        assertTrue(e.getMessage().contains("field 'unet_input' is 'raw', expected 'unscaled' or no such field"), e.getMessage());
    }

    /** Sets the manifest's unet_input of {@code model} (SampleCommandTest's open() notes use it too). */
    static void setUNetInput(Path model, String value) throws Exception {
        Path m = model.resolve(ModelDirectory.MANIFEST);
        ObjectNode json = (ObjectNode) Json.mapper().readTree(m.toFile());
        json.put("unet_input", value);
        Files.writeString(m, json.toString());
    }
}
