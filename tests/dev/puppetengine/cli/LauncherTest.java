package dev.puppetengine.cli;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The ./puppet-engine launcher, building: a signal to it stops the whole build, not only the launcher's shell. */
class LauncherTest {
    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130", "HUP, 129"})   // 128 + the signal, as the shell reports a process it ended
    void aSignalDuringTheBuildStopsTheBuildsChildren(String signal, int expectedCode, @TempDir Path dir) throws Exception {
        Path launcher = dir.resolve("puppet-engine"), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("puppet-engine"), launcher);
        // a stand-in for mvn whose child (like nvcc under Maven) would finish the build's work after the signal
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\ntouch started\n(sleep 1.5; touch finished) &\nwait\n");
        for (Path p : new Path[]{launcher, mvn}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        // the signal at its default, as in a user's shell: a job started in the background (a CI run under nohup, say) starts
        // with INT and HUP ignored, and bash can neither trap nor reset a signal ignored on entry
        assumeTrue(new ProcessBuilder("env", "--default-signal=" + signal, "true").start().waitFor() == 0, "env --default-signal (coreutils 8.31+) is needed");
        ProcessBuilder pb = new ProcessBuilder("env", "--default-signal=" + signal, "bash", launcher.toString(), "--help").redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile());   // no target/puppet-engine.jar there: it builds
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (p.isAlive() && !Files.exists(dir.resolve("started")) && System.nanoTime() < deadline) Thread.sleep(10);
        assertTrue(p.isAlive() && Files.exists(dir.resolve("started")), Files.readString(dir.resolve("log.txt")));
        Thread.sleep(200);   // the launcher sets its trap right after starting the build
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor());
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), "the launcher did not exit on SIG" + signal);
        assertEquals(expectedCode, p.exitValue(), Files.readString(dir.resolve("log.txt")));
        Thread.sleep(2500);   // past the child's 1.5 s
        assertFalse(Files.exists(dir.resolve("finished")), "the build's child kept running after the launcher's SIG" + signal);
    }
}
