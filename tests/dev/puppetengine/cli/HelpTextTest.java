package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every command's --help renders as written: picocli formats descriptions with String.format, so a bare '%' (say
 * "10% of the clips") makes it print a warning to stderr and show the raw text. Renders the usage of every command
 * and subcommand with stderr captured.
 */
class HelpTextTest {
    private static void render(CommandLine cl, List<String> names) {
        names.add(cl.getCommandSpec().qualifiedName());
        assertTrue(cl.getUsageMessage().contains("Usage:"), cl.getCommandSpec().qualifiedName());
        for (CommandLine sub : cl.getSubcommands().values()) render(sub, names);
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
    }
}
