package dev.puppetengine.cli;

import dev.puppetengine.testing.Signals;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stop by signal (Ctrl-C's SIGINT, or SIGTERM: the same hooks; the tests send SIGTERM, see Signals) in the middle of a
 * command's writes: the write under way unwinds, so nothing it was writing is left (no {@code *.tmp-*}, no lock file), the
 * note says what was kept, and the exit code is the signal's (143). Each in a child JVM: the hooks run only as a JVM exits.
 */
class SignalStopTest {
    @TempDir
    Path tmp;

    /** dataset: its clips are written by other threads while the main one draws the next; stopped, it keeps the complete ones. */
    @Test
    void aStoppedDatasetKeepsItsCompleteClipsAndLeavesNothingElse() throws Exception {
        Path out = tmp.resolve("clips"), log = tmp.resolve("dataset.log");
        Process p = Signals.java(log, Main.class.getName(), "dataset", "--out", out.toString(), "--count", "5000", "--size", "32", "--frames", "2");
        waitFor(p, () -> count(out.resolve("clips")) >= 3, log);
        p.destroy();   // SIGTERM: the hooks of Ctrl-C (Signals)
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "still running a minute after the signal");
        String said = Files.readString(log);
        assertEquals(143, p.exitValue(), said);
        assertTrue(said.contains("stopped: " + out + " keeps its complete clips; the same command continues"), said);
        assertFalse(said.contains("error"), said);
        assertEquals(List.of(), leftovers(out), said);
        assertTrue(count(out.resolve("clips")) < 5000, "stopped before the end");
    }

    /** create-model: its output appears whole or not at all; stopped part way through its writes, nothing of it stays. */
    @Test
    void aStoppedCreateModelLeavesNothing() throws Exception {
        for (int attempt = 0; ; attempt++) {   // the toy writes in about a second: a signal may come after the last write
            Path out = tmp.resolve("model-" + attempt), log = tmp.resolve("create-" + attempt + ".log");
            Process p = Signals.java(log, Main.class.getName(), "create-model", "--preset", "toy", "--out", out.toString());
            waitFor(p, () -> !leftovers(tmp).isEmpty(), log);   // its temporary folder beside --out: writing
            p.destroy();   // SIGTERM: the hooks of Ctrl-C (Signals)
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "still running a minute after the signal");
            String said = Files.readString(log);
            if (p.exitValue() == 0 && attempt < 4) continue;   // finished first
            assertEquals(143, p.exitValue(), said);
            assertTrue(said.contains("stopped: nothing was written (" + out + " is written whole or not at all)"), said);
            assertFalse(said.contains("error"), said);
            assertFalse(Files.exists(out), said);
            assertEquals(List.of(), leftovers(tmp), said);
            return;
        }
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    private static void waitFor(Process p, Check started, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && !started.holds() && System.nanoTime() < deadline) Thread.sleep(2);
        assertTrue(p.isAlive() && started.holds(), () -> "ended, or not started in 2 minutes, before the signal: " + read(log));
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (Exception e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static long count(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(c -> !c.getFileName().toString().contains(".tmp-")).count();
        }
    }

    /** What a write cut short or a held lock leaves under {@code dir}: temporaries and lock files. */
    private static List<String> leftovers(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(f -> dir.relativize(f).toString()).filter(n -> n.contains(".tmp-") || n.endsWith(".lock")).toList();
        }
    }
}
