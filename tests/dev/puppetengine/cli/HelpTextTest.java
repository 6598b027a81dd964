package dev.puppetengine.cli;

import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every command's --help renders as written: picocli formats descriptions with String.format, so a bare '%' (say
 * "10% of the clips") makes it print a warning to stderr and show the raw text. Renders the usage of every command
 * and subcommand with stderr captured.
 */
class HelpTextTest {
    private static void render(CommandLine cl, List<String> names) {
        CommandLine.Model.CommandSpec spec = cl.getCommandSpec();
        names.add(spec.qualifiedName());
        assertTrue(cl.getUsageMessage().contains("Usage:"), spec.qualifiedName());
        noSentenceSplit(spec.qualifiedName(), spec.usageMessage().description());
        for (CommandLine.Model.ArgSpec a : spec.args()) noSentenceSplit(spec.qualifiedName() + " " + a, a.description());
        for (CommandLine sub : cl.getSubcommands().values()) render(sub, names);
    }

    /**
     * Each element of a description array is printed on a line of its own: one that goes on in lower case is a sentence
     * broken in the middle of --help's paragraph (as the source's line length once broke sample's).
     */
    private static void noSentenceSplit(String where, String[] lines) {
        for (int i = 1; i < lines.length; i++)
            assertFalse(!lines[i - 1].isBlank() && !lines[i].isEmpty() && Character.isLowerCase(lines[i].charAt(0)),
                    where + ": '" + lines[i] + "' goes on from the line before it: join them into one element");
    }

    @Test
    void everyHelpTextRendersWithoutWarnings() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        List<String> names = new ArrayList<>();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            render(new CommandLine(new Main()), names);
        } finally {
            System.setErr(err);
        }
        assertTrue(names.size() > 15, "rendered only " + names);
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
    }

    /** Each training command's own defaults reach both its --help and the run's settings. */
    @Test
    void trainingCommandsUseAndShowTheirOwnDefaults() {
        TrainCommand train = new TrainCommand();
        CommandLine cl = new CommandLine(train);
        cl.parseArgs("--model", "m", "--data", "d", "--out", "o", "--batch-size", "3");
        var cfg = train.training.config("all", true);
        assertEquals(2000, cfg.steps());
        assertEquals(1e-4, cfg.lr());
        assertEquals(3, cfg.batchSize());
        assertEquals(0, cfg.emaDecay());
        assertTrue(cl.getUsageMessage().contains("Optimiser steps (default: 2000)"), cl.getUsageMessage());
        FitImageEncoderCommand fit = new FitImageEncoderCommand();
        CommandLine fl = new CommandLine(fit);
        fl.parseArgs("--model", "m", "--data", "d", "--out", "o");
        assertEquals(800, fit.training.config("all", true).steps());
        assertTrue(fl.getUsageMessage().contains("Clips per micro-step (default: 8)"), fl.getUsageMessage());
        // --export-dtype: train exports bf16 (as it samples), train-vae and fit-image-encoder the fp32 they train in
        TrainVaeCommand vae = new TrainVaeCommand();
        CommandLine vl = new CommandLine(vae);
        vl.parseArgs("--model", "m", "--data", "d", "--out", "o");
        assertEquals(DType.BF16, train.training.exportDtype());
        assertEquals(DType.F32, vae.training.exportDtype());
        assertEquals(DType.F32, fit.training.exportDtype());
        for (CommandLine c : new CommandLine[]{cl, vl, fl}) {
            String help = c.getUsageMessage().replaceAll("\\s+", " ");   // unwrapped
            assertTrue(help.contains("dtype of OUT/model: bf16, fp16, fp32 or fp64 (default: " + (c == cl ? "bf16" : "fp32") + ")"), help);
        }
    }

    /**
     * Step and frame counts SamplingOptions refuses (1..MAX_STEPS, 1..MAX_FRAMES) are stated in the help of the options
     * that feed it, and train's --preview-steps is refused with the option's name before the model loads, not later as
     * "steps must be ..." from the preview's SamplingOptions.
     */
    @Test
    void samplingRangesAreShownAndPreviewStepsRefusedUpFront(@TempDir Path dir) {
        assertTrue(new CommandLine(new TrainCommand()).getUsageMessage().contains("Sampling steps of a preview, 1 to " + SamplingOptions.MAX_STEPS));
        String bench = new CommandLine(new BenchSampleCommand()).getUsageMessage();
        assertTrue(bench.contains("Euler steps per sample, 2 to " + SamplingOptions.MAX_STEPS), bench);
        assertTrue(bench.contains("Frames, 1 to " + SamplingOptions.MAX_FRAMES), bench);
        String said = CliRun.stderrOf(2, "train", "--model", "models/toy", "--data", dir.resolve("absent").toString(), "--out", dir.resolve("run").toString(),
                "--preview-clips", dir.resolve("absent").toString(), "--preview-steps", "" + (SamplingOptions.MAX_STEPS + 1));
        assertEquals("error: --preview-steps must be 1 to " + SamplingOptions.MAX_STEPS + ", got " + (SamplingOptions.MAX_STEPS + 1), said.strip());
        assertFalse(Files.exists(dir.resolve("run")));
    }
}
