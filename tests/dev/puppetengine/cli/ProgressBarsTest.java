package dev.puppetengine.cli;

import dev.puppetengine.testing.CliRun;
import org.apache.commons.io.file.PathUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the progress bar writes: plain lines into a pipe or file, redraws on a terminal, other lines never on the bar's. */
class ProgressBarsTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    private String written() { return bytes.toString(StandardCharsets.UTF_8); }

    /** Runs {@code body} with System.err set to this test's stream, the real one put back after. */
    private void withStderrAsOut(Runnable body) {
        PrintStream saved = System.err;
        try {
            System.setErr(out);
            body.run();
        } finally {
            System.setErr(saved);
        }
    }

    /**
     * Asking whether stderr is a terminal writes no file: jline's way (its exec provider) extracted a native library into
     * java.io.tmpdir on every run, and where that is not writable (a read-only or missing /tmp) it printed a stray line
     * such as "/tmp/jlinenative-...so.lck (Permission denied)" into the command's output.
     */
    @Test
    void askingForTheTerminalNeedsNoTempDirectory(@TempDir Path dir) throws Exception {
        // stderr a pipe here: not a terminal, and nothing else said
        assertEquals("width 0\n", child(List.of("-Djava.io.tmpdir=" + dir.resolve("missing")), List.of()));
    }

    /** On a terminal (a pty under script(1)), its width less one column, also when stdin is not the terminal. */
    @Test
    void onATerminalItsWidth() throws Exception {
        assumeTrue(new ProcessBuilder("script", "-qec", "true", "/dev/null").start().waitFor() == 0, "script (util-linux) is needed for a pty");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String run = "stty cols 101 rows 30; " + java + " -cp " + System.getProperty("java.class.path") + " '" + Width.class.getName() + "'";
        for (String stdin : new String[]{"", " </dev/null"})
            assertEquals("width 100", child(List.of(), List.of("script", "-qec", run + stdin, "/dev/null")).strip(), "stdin:" + stdin);
    }

    /** Runs {@link Width} in a JVM of its own (with {@code jvmFlags}, under {@code wrapper} when given one); its output. */
    private static String child(List<String> jvmFlags, List<String> wrapper) throws Exception {
        List<String> cmd = new ArrayList<>(wrapper);
        if (wrapper.isEmpty()) {
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(jvmFlags);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Width.class.getName()));
        }
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8) + new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** The child of the two tests above: says the width ProgressBars found for stderr. */
    static final class Width {
        public static void main(String[] args) {
            System.out.println("width " + ProgressBars.stderrWidth());
        }
    }

    /** On the Console's own clock (here the test's): not on the time the test happens to take, nor on the wall clock. */
    @Test
    void intoAPipeItWritesWholeLinesAtMostOnceAnIntervalAndTheLast() {
        long interval = TimeUnit.MILLISECONDS.toNanos(ProgressBars.LOG_EVERY_MILLIS);
        long[] now = {-5};   // any origin: nanoTime's may be negative
        ProgressBars.Console c = new ProgressBars.Console(out, 0, () -> now[0]);
        c.accept("task 0/5   ");
        c.accept("task 1/5");   // within the interval of the line before: not written
        c.println("note: something");
        now[0] += interval - 1;
        c.accept("task 2/5");   // still within it
        now[0] += 1;
        c.accept("task 3/5");   // an interval after the last line: written
        now[0] += interval - 1;
        c.accept("task 4/5");
        c.accept("task 5/5");
        c.close();              // the last, whenever
        assertEquals(String.join(System.lineSeparator(), "task 0/5", "note: something", "task 3/5", "task 5/5", ""), written());
    }

    /** The bar is drawn to the terminal's width (a wider one would wrap, a new line per redraw); into a pipe to 130 columns. */
    @Test
    void theBarIsAsWideAsTheTerminalOr130IntoAPipe() {
        assertEquals(80, new ProgressBars.Console(out, 80).getMaxRenderedLength());
        assertEquals(130, new ProgressBars.Console(out, 0).getMaxRenderedLength());
    }

    @Test
    void onATerminalALineSaidWhileTheBarIsOpenTakesTheBarsLineAndTheBarIsRedrawnBelow() {
        ProgressBars.Console c = new ProgressBars.Console(out, 10);
        c.accept("bar 1/3");
        c.println("trained");
        c.close();
        assertEquals("\rbar 1/3   \r          \rtrained" + System.lineSeparator() + "\rbar 1/3   " + System.lineSeparator(), written());
    }

    /**
     * On a terminal, what others write to System.err while the bar is open (slf4j's simple logger looks System.err up at
     * every line) goes above the bar, a partial line at close too, and System.err is given back at close.
     */
    @Test
    void onATerminalOtherWritesToStderrGoAboveTheBar() {
        barTakingStderr(() -> {
            System.err.println("tuned x");
            System.err.print("tail");
        });
        String redraw = "\rbar 1/3   ", clear = "\r          \r", nl = System.lineSeparator();
        assertEquals(redraw + clear + "tuned x" + nl + redraw + clear + "tail" + nl + redraw + nl, written());
    }

    /** A terminal bar (10 wide) that takes System.err, shows "bar 1/3", hears {@code writes} to System.err, and closes, giving System.err back. */
    private void barTakingStderr(Runnable writes) {
        withStderrAsOut(() -> {
            ProgressBars.Console c = new ProgressBars.Console(out, 10);
            c.takeStderr();
            c.accept("bar 1/3");
            writes.run();
            c.close();
            assertEquals(out, System.err, "stderr given back");
        });
    }

    /**
     * A write that reaches a closed bar, through the taken stderr a logger thread fetched just before close gave it back,
     * or a println that read the open bar just before close, is a plain line: the closed bar is not drawn again below it.
     */
    @Test
    void onATerminalAWriteReachingAClosedBarDoesNotRedrawIt() {
        withStderrAsOut(() -> {
                ProgressBars.Console c = new ProgressBars.Console(out, 10);
                c.takeStderr();
                c.accept("bar 1/3");
                PrintStream held = System.err;
                c.close();
                held.println("late");
                held.print("tail");
                c.println("racing");
                String nl = System.lineSeparator();
                assertEquals("\rbar 1/3   " + nl + "late" + nl + "tail" + "racing" + nl, written());
        });
    }

    /** Into a pipe nothing is taken: the bar's lines are whole, another line cannot land on one. */
    @Test
    void intoAPipeStderrIsLeftAlone() {
        withStderrAsOut(() -> {
                ProgressBars.Console c = new ProgressBars.Console(out, 0);
                c.takeStderr();
                assertEquals(out, System.err);
                c.close();
        });
    }

    /** A partial line written to the taken stderr before a signal's note is not lost: the JVM exits without closing the bar. */
    @Test
    void onATerminalAPartialLineBeforeTheNoteBeforeExitIsWritten() {
        withStderrAsOut(() -> {
                ProgressBars.Console c = new ProgressBars.Console(out, 10);
                c.takeStderr();
                c.accept("bar 1/3");
                System.err.print("tuning");
                c.printlnOnExit("stopped: x");
                String nl = System.lineSeparator();
                assertEquals("\rbar 1/3   " + nl + "tuning" + nl + "stopped: x" + nl, written());
                c.close();
        });
    }

    /** A signal's note (StopNote) on a terminal: the bar's line ended as it stood, the note below, no redraw after it. */
    @Test
    void onATerminalTheNoteBeforeExitEndsTheBarsLineAndTheBarIsNotRedrawn() {
        ProgressBars.Console c = new ProgressBars.Console(out, 10);
        c.accept("bar 1/3");
        c.printlnOnExit("stopped: x");
        c.accept("bar 2/3");   // the render thread, before the JVM halts
        c.close();
        assertEquals("\rbar 1/3   " + System.lineSeparator() + "stopped: x" + System.lineSeparator(), written());
    }

    /** On a terminal a line written to stderr with a CRLF end (a Windows-style logger's) goes above the bar without its CR. */
    @Test
    void onATerminalACrLfLineOnStderrGoesAboveTheBarWithoutItsCr() {
        barTakingStderr(() -> System.err.print("tuning\r\n"));
        String nl = System.lineSeparator();
        assertEquals("\rbar 1/3   \r          \rtuning" + nl + "\rbar 1/3   " + nl, written());
    }

    /** A bar given a unit shows its speed in it (bench's " steps"); one without shows none. */
    @Test
    void aBarWithAUnitShowsItsSpeedInIt() {
        withStderrAsOut(() -> {
            try (me.tongfei.progressbar.ProgressBar bar = ProgressBars.of("timed", 2, " steps")) {
                bar.stepTo(2);
            }
            try (me.tongfei.progressbar.ProgressBar bar = ProgressBars.of("plain", 2, null)) {
                bar.stepTo(2);
            }
        });
        List<String> lines = written().lines().toList();
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("timed ") && l.contains(" steps/s")), written());
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("plain ") && l.contains("/s")), written());
    }

    /** Into a pipe the note before exit is a line after the bar's last line, no empty line between (the bar's lines are whole). */
    @Test
    void intoAPipeTheNoteBeforeExitFollowsTheBarsLastLine() {
        ProgressBars.Console c = new ProgressBars.Console(out, 0);
        c.accept("bar 1/3");
        c.printlnOnExit("stopped: x");
        assertEquals("bar 1/3" + System.lineSeparator() + "stopped: x" + System.lineSeparator(), written());
    }

    /** A terminal's stderr need not flush without a line end: each redraw is flushed, or the bar would show only when a line is printed. */
    @Test
    void onATerminalEachRedrawIsFlushed() {
        PrintStream buffered = new PrintStream(new BufferedOutputStream(bytes), false, StandardCharsets.UTF_8);
        ProgressBars.Console c = new ProgressBars.Console(buffered, 10);
        c.accept("bar 1/3");
        assertEquals("\rbar 1/3   ", written());
    }

    /**
     * A bar closed as soon as it is opened (nothing left to do) is closed all the same: the library's first draw, on
     * its render thread, used to swallow such a close, leaving the bar the open one, so that a later line went to it
     * (here: the stream stderr was when the bar opened) instead of to stderr. Many times, since it was a race.
     */
    @Test
    void aBarClosedAtOnceIsNoLongerTheOpenOne() {
        PrintStream saved = System.err;
        try {
            for (int i = 0; i < 50; i++) {
                ByteArrayOutputStream during = new ByteArrayOutputStream(), after = new ByteArrayOutputStream();
                System.setErr(new PrintStream(during, true, StandardCharsets.UTF_8));
                ProgressBars.of("empty", 0, null).close();
                System.setErr(new PrintStream(after, true, StandardCharsets.UTF_8));
                ProgressBars.println("after " + i);
                assertEquals("after " + i + System.lineSeparator(), after.toString(StandardCharsets.UTF_8),
                        "the line went to the closed bar's stream: " + during.toString(StandardCharsets.UTF_8));
                assertTrue(during.toString(StandardCharsets.UTF_8).contains("empty"), during.toString(StandardCharsets.UTF_8));
            }
        } finally {
            System.setErr(saved);
        }
    }

    /** describe --verify's bar ends at 100% on a model of under a megabyte too (it counted whole MB of a total of 1: 0%). */
    @Test
    void verifysBarEndsFullOnASmallModel(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("m"));
        CliRun r = CliRun.of("describe", "--verify", model.toString());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("verify 100%")), r.err());
    }

    /**
     * A resumed dataset's bar starts at its complete clips (kept in moments: counted from 0, they made its speed and ETA
     * wrong), and with a clip missing between complete ones it does not step back. A dataset of other settings is refused
     * before the bar opens.
     */
    @Test
    void aResumedDatasetsBarStartsAtItsCompleteClips(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips");
        String[] dataset = {"dataset", "--out", data.toString(), "--count", "3", "--size", "32", "--frames", "2"};
        assertEquals(0, Main.run(dataset));
        PathUtils.deleteDirectory(data.resolve("clips/000001"));
        String err = CliRun.stderrOf(0, dataset);
        List<String> bars = err.lines().filter(l -> l.startsWith("clips ")).toList();
        assertTrue(bars.size() >= 2 && bars.get(0).contains(" 2/3 ") && bars.get(bars.size() - 1).contains(" 3/3 "), err);
        assertTrue(err.contains("1 clips written, 2 already complete"), err);
        dataset[dataset.length - 1] = "3";   // other settings: refused before any bar
        String refused = CliRun.stderrOf(2, dataset);
        assertTrue(refused.contains("the existing dataset differs"), refused);
        assertFalse(refused.lines().anyMatch(l -> l.startsWith("clips ")), refused);
    }

    /**
     * Runs fit-image-encoder on a tiny model and two clips into {@code out} for {@code steps} steps, a checkpoint every
     * {@code every}; its arguments, to run it again.
     */
    private static String[] fitted(Path dir, Path out, int steps, int every) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.write(dir.resolve("m0"));
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "64", "--frames", "2"));
        String[] fit = {"fit-image-encoder", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", String.valueOf(steps), "--checkpoint-every", String.valueOf(every), "--batch-size", "1"};
        assertEquals(0, Main.run(fit));
        return fit;
    }

    /** As if the run in {@code out} had stopped before checkpoint {@code step}: that checkpoint and the pointer to it gone. */
    private static void stoppedBefore(Path out, String step) throws Exception {
        Files.delete(out.resolve("latest"));
        PathUtils.deleteDirectory(out.resolve("checkpoints").resolve(step));
    }

    /** A resumed training run refused for other settings says so before any bar (it used to print a bar's first line, then the error). */
    @Test
    void aResumeRefusedForOtherSettingsShowsNoBar(@TempDir Path dir) throws Exception {
        String[] fit = fitted(dir, dir.resolve("enc"), 1, 1);
        fit[8] = "2";
        String err = CliRun.stderrOf(2, fit);
        assertTrue(err.contains("training.steps 1 -> 2"), err);
        assertFalse(err.lines().anyMatch(l -> l.startsWith("image encoder ")), err);
    }

    /** A resumed training run whose checkpoint file was cut short is refused before any bar (found as the run restored it, after the bar's first line). */
    @Test
    void aDamagedCheckpointIsRefusedBeforeAnyBar(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("enc");
        String[] fit = fitted(dir, out, 2, 1);
        stoppedBefore(out, "step-00000002");   // and step 1's weights file then cut short
        Path weights = out.resolve("checkpoints/step-00000001/weights.safetensors");
        byte[] whole = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(whole, whole.length - 1));
        String err = CliRun.stderrOf(2, fit);
        assertTrue(err.contains(weights.toString()), err);
        assertFalse(err.lines().anyMatch(l -> l.startsWith("image encoder ")), err);
    }

    /**
     * End to end with stderr captured (not a terminal): the bar's lines are there, whole; a resumed run's bar starts at the
     * checkpoint's step (its ETA times only this run's steps); the summary is a line of its own.
     */
    @Test
    void aResumedTrainingRunsBarStartsAtTheCheckpointInPlainLines(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("enc");
        String[] fit = fitted(dir, out, 4, 2);
        stoppedBefore(out, "step-00000004");
        String err = CliRun.stderrOf(0, fit);
        assertFalse(err.contains("\r"), err);
        List<String> bars = err.lines().filter(l -> l.startsWith("image encoder ")).toList();
        assertTrue(bars.size() >= 2 && bars.get(0).contains(" 2/4 ") && bars.get(bars.size() - 1).contains(" 4/4 "), err);
        assertTrue(err.lines().anyMatch(l -> l.startsWith("resuming the run in " + out + " at step 2")), err);
        assertTrue(err.lines().anyMatch(l -> l.startsWith("trained steps 3..4; loss curve")), err);
    }
}
