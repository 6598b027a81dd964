package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.puppetengine.testing.CliRun.stderrOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A training preview whose decoded frames are NaN says so, as sample does, instead of writing a black GIF: the UNet
 * trains (its loss is finite) while decoding, which training never checks, overflows. (Weights that are NaN themselves
 * are refused when the model loads.)
 */
class TrainPreviewNonFiniteTest {
    @Test
    void aNanDecoderPreviewIsReportedNotWrittenBlack(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.writeDecodingNaN(dir.resolve("nan-decoder"));
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "5", "--size", "64", "--frames", "2"));   // 4 training clips, 1 to preview
        Path prepared = dir.resolve("prep"), run = dir.resolve("run");
        assertEquals(0, Main.run("prepare", "--model", model.toString(), "--data", data.toString(), "--out", prepared.toString()));
        String said = stderrOf(0, "train", "--model", model.toString(), "--data", prepared.toString(), "--out", run.toString(), "--steps", "1",
                "--preview-clips", data.toString(), "--preview-every", "1", "--preview-steps", "1");
        assertTrue(said.contains("warning: preview at step 1 not written: every decoded value was NaN or infinite"), said);
        assertFalse(Files.exists(run.resolve("previews/step-1.gif")));
        assertTrue(Files.isRegularFile(run.resolve("model/manifest.json")), "the preview does not stop training");
    }
}
