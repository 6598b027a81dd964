package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

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
            Object[] r = EvalCommandTest.run("plot", run.toString(), "--out", out.toString());
            assertEquals(2, r[0], (String) r[2]);
            assertTrue(((String) r[2]).contains("--out " + out + " is the input log " + log + ": writing it would replace the input"), (String) r[2]);
            assertEquals(lines, Files.readString(log));
        }
        Object[] ok = EvalCommandTest.run("plot", run.toString());
        assertEquals(0, ok[0], (String) ok[2]);
        assertTrue(Files.size(run.resolve("loss.png")) > 0);
        assertEquals(lines, Files.readString(log));
    }

    /** Only numbers are losses: a null or a string (another tool's log) is no step, not a loss of 0. */
    @Test
    void aLossThatIsNotANumberIsNoStep() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": null}\n"
                + "{\"step\": 3, \"loss\": \"n/a\"}\n{\"step\": \"x\", \"loss\": 0.3}\n{\"step\": 4, \"loss\": 0.4}\n");
        assertEquals(java.util.List.of(1.0, 4.0), dev.puppetengine.train.LossPlot.read(log).stream().map(p -> p[0]).toList());
    }

    /** The plot is a PNG: an --out named otherwise (loss.gif) is refused, not written as a PNG under that name. */
    @Test
    void refusesAnOutputNotNamedPng() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\": 1, \"loss\": 0.5}\n");
        Object[] r = EvalCommandTest.run("plot", log.toString(), "--out", dir.resolve("loss.gif").toString());
        assertEquals(2, r[0], (String) r[2]);
        assertTrue(((String) r[2]).contains("--out " + dir.resolve("loss.gif") + ": plot writes a PNG; give a file name ending in .png"), (String) r[2]);
        assertFalse(Files.exists(dir.resolve("loss.gif")));
        assertEquals(0, EvalCommandTest.run("plot", log.toString(), "--out", dir.resolve("Loss.PNG").toString())[0]);
    }

    /** A log with nothing to plot is refused before --out's missing folders are created. */
    @Test
    void aRefusedPlotCreatesNoFolders() throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "not json\n{\"step\": 1}\n");
        Object[] r = EvalCommandTest.run("plot", log.toString(), "--out", dir.resolve("new/sub/loss.png").toString());
        assertEquals(2, r[0], (String) r[2]);
        assertTrue(((String) r[2]).contains("no step with a finite loss"), (String) r[2]);
        assertFalse(Files.exists(dir.resolve("new")));
    }
}
