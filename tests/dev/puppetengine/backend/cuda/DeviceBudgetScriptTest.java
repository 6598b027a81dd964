package dev.puppetengine.backend.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
    private static final List<String> DEVICE_SCRIPTS = List.of("kernels/device-visit.sh", "kernels/check/gpu-check.sh",
            "kernels/check/graph-check.sh", "kernels/bench/gpu-bench.sh");

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
        String out = bash(dir, """
                KILL_GRACE=1; t0=$SECONDS
                limited 1 bash -c 'trap "" TERM; sleep 300 & echo $! > child.pid; wait'
                rc=$?; ran=$((SECONDS - t0))
                stopped_at_limit $rc $ran 1 && echo "stopped $rc" || echo "not stopped $rc"
                """);
        assertTrue(out.endsWith("\nstopped 137"), out);   // after bash's "Killed" line
        long child = Long.parseLong(Files.readString(dir.resolve("child.pid")).strip());
        boolean gone = ProcessHandle.of(child).map(h -> h.onExit().thenApply(x -> true).completeOnTimeout(false, 10, TimeUnit.SECONDS).join()).orElse(true);
        assertTrue(gone, "the step's child " + child + " still runs");
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

    @Test
    void theDeviceScriptsLimitEveryStepThroughLimited() throws Exception {
        for (String script : DEVICE_SCRIPTS) {
            for (String line : Files.readAllLines(Path.of(script))) {
                String code = line.replaceFirst("(^|\\s)#.*$", "");
                assertFalse(code.matches(".*(^|[\\s;|&($])timeout\\s.*"), script + " runs timeout itself, without the kill after it: " + line);
            }
        }
    }
}
