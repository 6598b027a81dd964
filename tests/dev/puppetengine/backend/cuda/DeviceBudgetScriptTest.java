package dev.puppetengine.backend.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * kernels/device-budget.sh's {@code limited} and {@code stopped_at_limit}, which every step of a device visit runs
 * through: a step that does not end on SIGTERM (a JVM whose exit waits on a hung kernel) is killed, children and
 * all, instead of holding the visit until the device tool ends it and everything after that step is lost.
 */
class DeviceBudgetScriptTest {
    @BeforeAll
    static void needsTimeout() throws Exception {
        assumeTrue(new ProcessBuilder("bash", "-c", "command -v timeout").start().waitFor() == 0, "timeout (coreutils) is needed");
    }

    /** Runs {@code script} in bash after sourcing device-budget.sh, in {@code dir}; its output, which must come within 40 s. */
    private static String bash(Path dir, String script) throws Exception {
        Path log = dir.resolve("log.txt");
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "source \"$BUDGET_SH\"; " + script)
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("BUDGET_SH", Path.of("kernels/device-budget.sh").toAbsolutePath().toString());
        Process p = pb.start();
        boolean ended = p.waitFor(40, TimeUnit.SECONDS);
        if (!ended) p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        assertTrue(ended, "the script did not end within 40 s: " + script);
        return Files.readString(log).strip();
    }

    @Test
    void aStepIgnoringSigtermIsKilledWithItsChildrenAfterTheGrace(@TempDir Path dir) throws Exception {
        // the step and its child ignore SIGTERM (a child inherits that); both must be gone soon after limit + grace
        // (a limit of 5 s: on a loaded machine the step must have set its trap before the SIGTERM comes)
        String out = bash(dir, """
                KILL_GRACE=1; t0=$SECONDS
                limited 5 bash -c 'trap "" TERM; sleep 300 & echo $! > child.pid; wait'
                rc=$?; ran=$((SECONDS - t0))
                stopped_at_limit $rc $ran 5 && echo "stopped $rc" || echo "not stopped $rc"
                """);
        assertEquals("stopped 137", out.lines().reduce((a, b) -> b).orElse(""), out);   // the last line: bash may say "Killed" first
        long child = Long.parseLong(Files.readString(dir.resolve("child.pid")).strip());
        assertTrue(gone(child), "the step's child " + child + " still runs");
    }

    /**
     * Whether process {@code pid} has ended within 10 s: no longer in /proc, or a zombie (the orphan goes to PID 1,
     * which in a container without an init may never reap it; ProcessHandle would call that alive).
     */
    private static boolean gone(long pid) throws Exception {
        Path stat = Path.of("/proc/" + pid + "/stat");
        for (int i = 0; i < 100; i++) {
            String s;
            try {
                s = Files.readString(stat);
            } catch (NoSuchFileException ended) {
                return true;
            }
            if (s.substring(s.lastIndexOf(')') + 2).startsWith("Z")) return true;   // the state follows the name in brackets
            Thread.sleep(100);
        }
        return false;
    }

    @Test
    void aStepEndingOnSigtermIsStoppedAtTheLimit(@TempDir Path dir) throws Exception {
        assertEquals("124 stopped", bash(dir, "limited 1 sleep 300; rc=$?; stopped_at_limit $rc 1 1 && echo \"$rc stopped\""));
    }

    @Test
    void aStepEndingOnItsOwnIsNotStopped(@TempDir Path dir) throws Exception {
        assertEquals("3 ran", bash(dir, "limited 30 bash -c 'exit 3'; rc=$?; stopped_at_limit $rc 0 30 || echo \"$rc ran\""));
    }

    @Test
    void aKillBeforeTheLimitIsNotATimeout(@TempDir Path dir) throws Exception {
        // 137 also comes from the kernel's out-of-memory killer, which does not wait for the limit
        assertEquals("early kill", bash(dir, "stopped_at_limit 137 5 60 || echo early kill"));
        assertEquals("late kill", bash(dir, "stopped_at_limit 137 70 60 && echo late kill"));
    }

    /** Every script that sources device-budget.sh (found, so that a new one is checked too) limits its steps through it. */
    @Test
    void theDeviceScriptsLimitEveryStepThroughLimited() throws Exception {
        List<Path> scripts;
        try (Stream<Path> all = Files.walk(Path.of("kernels"))) {
            scripts = all.filter(f -> f.toString().endsWith(".sh") && !f.endsWith("device-budget.sh")).filter(f -> {
                try {
                    return Files.readString(f).contains("device-budget.sh\"");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sorted().toList();
        }
        assertTrue(scripts.stream().map(Path::toString).toList().containsAll(
                List.of("kernels/bench/gpu-bench.sh", "kernels/check/gpu-check.sh", "kernels/check/graph-check.sh")), "the scripts found: " + scripts);
        for (Path script : scripts) {
            for (String line : Files.readAllLines(script)) {
                String code = line.replaceFirst("(^|\\s)#.*$", "");
                assertFalse(code.matches(".*(^|[\\s;|&($])timeout\\s.*"), script + " runs timeout itself, without the kill after it: " + line);
            }
        }
    }
}
