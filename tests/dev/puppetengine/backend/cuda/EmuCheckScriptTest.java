package dev.puppetengine.backend.cuda;

import dev.puppetengine.testing.OddCheckout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * kernels/check/emu/emu-check.sh and its tests-on.sh, with stand-ins for the emulator's build and for Maven: the JVM
 * flags a step gives the test JVM reach it whole wherever the checkout lies, and an exported CDPATH does not move it.
 */
class EmuCheckScriptTest {
    /**
     * Maven as far as the flags go: surefire puts -Dsurefire.jvm into the pom's argLine, which it splits at blanks
     * outside quotes, one JVM argument a word (a flag with a space left the JVM a main class named after the rest of
     * the path: "Could not find or load main class"); xargs splits alike. The words go to jvm-args.txt, one a line.
     */
    private static final String FAKE_MVN = """
            #!/usr/bin/env bash
            for a in "$@"; do case $a in -Dsurefire.jvm=*) jvm=${a#-Dsurefire.jvm=} ;; esac; done
            printf '%s' "$jvm" | xargs printf '%s\\n' > jvm-args.txt || exit 1
            mkdir -p target/surefire-reports
            echo "Tests run: 1, Failures: 0, Errors: 0, Skipped: 0" > target/surefire-reports/T.txt
            """;

    @Test
    void aStepsTuningCacheFlagReachesTheTestJvmWholeUnderAPathWithSpacesAndQuotes(@TempDir Path dir) throws Exception {
        assumeTrue(new ProcessBuilder("bash", "-c", "command -v timeout").start().waitFor() == 0, "timeout (coreutils) is needed");
        Path root = OddCheckout.create(dir);
        Path emu = Files.createDirectories(root.resolve("kernels/check/emu")), bin = Files.createDirectories(root.resolve("stand-ins"));
        for (String s : new String[]{"emu-check.sh", "tests-on.sh"}) Files.copy(Path.of("kernels/check/emu").resolve(s), emu.resolve(s));
        Files.writeString(emu.resolve("build.sh"), "echo '[simt] stand-in build'\n");
        Files.createFile(Files.createDirectories(root.resolve("target/classes/kernels")).resolve("gemm.fatbin"));
        Files.writeString(bin.resolve("mvn"), FAKE_MVN);
        Files.setPosixFilePermissions(bin.resolve("mvn"), PosixFilePermissions.fromString("rwxr-xr-x"));
        // by a relative path, as by hand or from .ci/run
        OddCheckout.Run run = OddCheckout.run(root, env -> {
            env.put("PATH", bin + ":" + System.getenv("PATH"));
            env.remove("OUT");
        }, "bash", "kernels/check/emu/emu-check.sh", "harness-mma");
        String log = run.log();
        assertEquals(0, run.code(), log);
        List<String> jvm = Files.readAllLines(root.resolve("jvm-args.txt"));
        assertTrue(jvm.contains("-Dpuppet.cuda.tuneCache=" + root.resolve("target/simt/check/tune")), "the test JVM's arguments: " + jvm + "\n" + log);
        assertTrue(jvm.contains("-Dpuppet.cuda.gemm=mma") && jvm.contains("-Xmx6g"), jvm.toString());
    }
}
