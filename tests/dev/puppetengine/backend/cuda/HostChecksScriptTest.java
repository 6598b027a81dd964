package dev.puppetengine.backend.cuda;

import dev.puppetengine.testing.OddCheckout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kernels/check/host-checks.sh with a stand-in nvcc whose programs pass: every check's source is found, wherever the checkout lies. */
class HostChecksScriptTest {
    /** Writes, for a source it can read, a program that prints that it ran. */
    private static final String FAKE_NVCC = """
            #!/bin/sh
            out=; src=
            while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; *.cu) src=$1 ;; esac; shift; done
            [ -f "$src" ] || { echo "nvcc: no such source: $src" >&2; exit 1; }
            printf '#!/bin/sh\\necho "ran %s"\\n' "$(basename "$src" .cu)" > "$out" && chmod +x "$out"
            """;

    @Test
    void everyCheckBuildsAndRunsUnderAnOddPathWithCdpathExported(@TempDir Path dir) throws Exception {
        Path root = OddCheckout.create(dir);
        Path check = Files.createDirectories(root.resolve("kernels/check")), bin = Files.createDirectories(root.resolve("stand-ins"));
        Files.copy(Path.of("kernels/check/host-checks.sh"), check.resolve("host-checks.sh"));
        String[] checks = {"gemm_mma_host_check", "gemm_wgmma_host_check", "gemm_wgmma_ws_host_check", "attention_mma_host_check", "adam_host_check"};
        for (String c : checks) Files.writeString(check.resolve(c + ".cu"), "");
        Files.writeString(bin.resolve("nvcc"), FAKE_NVCC);
        Files.setPosixFilePermissions(bin.resolve("nvcc"), PosixFilePermissions.fromString("rwxr-xr-x"));
        // by a relative path, as .ci/run starts it
        OddCheckout.Run run = OddCheckout.run(root, env -> {
            env.put("PATH", bin + ":" + System.getenv("PATH"));
            env.remove("CUTLASS");
        }, "bash", "kernels/check/host-checks.sh");
        String log = run.log();
        assertEquals(0, run.code(), log);
        for (String c : checks) assertTrue(log.contains("ran " + c + "\n"), c + ": " + log);
    }
}
