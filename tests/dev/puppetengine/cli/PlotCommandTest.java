package dev.puppetengine.cli;

import dev.puppetengine.testing.CliRun;
import dev.puppetengine.train.LossPlot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** plot never writes its PNG over the training log it reads (the run could not resume). */
class PlotCommandTest {
    @TempDir
    Path dir;

    @Test
    void refusesAnOutputThatIsTheLog() throws Exception {
        Path run = Files.createDirectory(dir.resolve("run")), log = run.resolve("log.jsonl");
        String lines = "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n";
        Files.writeString(log, lines);
        for (Path out : new Path[]{log, run.resolve("../run/./log.jsonl")}) {
            CliRun r = CliRun.of("plot", run.toString(), "--out", out.toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--out " + out + " is the input log " + log + ": writing it would replace the input"), r.err());
            assertEquals(lines, Files.readString(log));
        }
        CliRun ok = CliRun.of("plot", run.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(Files.size(run.resolve("loss.png")) > 0);
        assertEquals(lines, Files.readString(log));
    }

    /** Only numbers are losses: a null or a string (another tool's log) is no step, not a loss of 0. */
    @Test
    void aLossThatIsNotANumberIsNoStep() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": null}\n"
                + "{\"step\": 3, \"loss\": \"n/a\"}\n{\"step\": \"x\", \"loss\": 0.3}\n{\"step\": 4, \"loss\": 0.4}\n");
        assertEquals(List.of(1.0, 4.0), LossPlot.read(log).stream().map(p -> p[0]).toList());
    }

    /** The plot is a PNG: an --out named otherwise (loss.gif) is refused, not written as a PNG under that name. */
    @Test
    void refusesAnOutputNotNamedPng() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n");
        CliRun r = CliRun.of("plot", log.toString(), "--out", dir.resolve("loss.gif").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--out " + dir.resolve("loss.gif") + ": plot writes a PNG; give a file name ending in .png"), r.err());
        assertFalse(Files.exists(dir.resolve("loss.gif")));
        assertEquals(0, CliRun.of("plot", log.toString(), "--out", dir.resolve("Loss.PNG").toString()).code());
    }

    /**
     * A log file given (not its run directory) is drawn beside it by default, and into --out's missing folders when given,
     * saying how many steps were drawn; a run directory without a log is refused naming the log it looked for, and an --out
     * that is a folder as such.
     */
    @Test
    void drawsBesideTheLogOrIntoNewFoldersAndRefusesARunWithoutALog() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n");
        Path png = dir.resolve("new/sub/curve.png");
        CliRun r = CliRun.of("plot", log.toString(), "--out", png.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("wrote " + png + " (2 steps)", r.err().strip());
        assertTrue(Files.size(png) > 0);
        assertEquals(0, CliRun.of("plot", log.toString()).code());
        assertTrue(Files.size(dir.resolve("loss.png")) > 0);
        Path one = Files.writeString(dir.resolve("one.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n");
        assertEquals("wrote " + dir.resolve("one.png") + " (1 step)", CliRun.of("plot", one.toString(), "--out", dir.resolve("one.png").toString()).err().strip());
        Path run = Files.createDirectory(dir.resolve("run"));
        CliRun none = CliRun.of("plot", run.toString());
        assertEquals(2, none.code(), none.err());
        assertEquals("error: " + run.resolve("log.jsonl") + ": no such training log (expected a run directory with log.jsonl)", none.err().strip());
        Path folder = Files.createDirectory(dir.resolve("folder.png"));   // an --out that is a folder: refused as such
        CliRun intoFolder = CliRun.of("plot", log.toString(), "--out", folder.toString());
        assertEquals(2, intoFolder.code(), intoFolder.err());
        assertEquals("error: --out " + folder + " is a directory; give a file name", intoFolder.err().strip());
    }

    /** A log with nothing to plot is refused before --out's missing folders are created. */
    @Test
    void aRefusedPlotCreatesNoFolders() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "not json\n{\"step\": 1}\n");
        CliRun r = CliRun.of("plot", log.toString(), "--out", dir.resolve("new/sub/loss.png").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("no step with a finite loss"), r.err());
        assertFalse(Files.exists(dir.resolve("new")));
    }
}
