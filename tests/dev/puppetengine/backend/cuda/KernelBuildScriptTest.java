package dev.puppetengine.backend.cuda;

import dev.puppetengine.testing.OddCheckout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * kernels/build.sh, Maven's kernel step, with a stand-in nvcc that copies its source to its output: every kernel file
 * reaches nvcc whole wherever the checkout lies (and whatever CDPATH holds), and one that fails to compile fails the build.
 */
class KernelBuildScriptTest {
    private static final String FAKE_NVCC = """
            #!/bin/sh
            [ "$1" = --version ] && { echo "stand-in nvcc"; exit 0; }
            out=; src=
            while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; *.cu|*.c) src=$1 ;; esac; shift; done
            [ -f "$src" ] || { echo "nvcc: no such source: $src" >&2; exit 1; }
            grep -q broken "$src" && { echo "nvcc: $src: error" >&2; exit 1; }
            cp "$src" "$out"
            """;

    private static OddCheckout.Run build(Path root, Path out) throws Exception {
        return build(root, out, System.getenv("PATH"));
    }

    /** build.sh by its relative path, as by hand from the checkout (Maven gives an absolute one). */
    private static OddCheckout.Run build(Path root, Path out, String path) throws Exception {
        Path nvcc = root.resolve("nvcc");
        Files.writeString(nvcc, FAKE_NVCC);
        Files.setPosixFilePermissions(nvcc, PosixFilePermissions.fromString("rwxr-xr-x"));
        return OddCheckout.run(root, env -> {
            env.put("NVCC", nvcc.toString());
            env.put("PATH", path);
            env.remove("CUDA_SKIP");
            env.remove("CUDA_ARCHS");
        }, "bash", "kernels/build.sh", out.toString());
    }

    private static Path checkout(Path dir, String... kernels) throws Exception {
        Path root = OddCheckout.create(dir);
        Path k = Files.createDirectories(root.resolve("kernels"));
        Files.copy(Path.of("kernels/build.sh"), k.resolve("build.sh"));
        Files.writeString(k.resolve("common.cuh"), "// header\n");
        for (String name : kernels) Files.writeString(k.resolve(name + ".cu"), "// kernel " + name + "\n");
        Files.writeString(Files.createDirectories(root.resolve("src/main/native")).resolve("tensor_map.c"), "// shim\n");
        return root;
    }

    @Test
    void buildsEveryKernelUnderAPathWithSpacesAndQuotes(@TempDir Path dir) throws Exception {
        Path root = checkout(dir, "adam", "norm", "gemm_wgmma");
        Path out = root.resolve("target/classes/kernels");
        OddCheckout.Run run = build(root, out);
        String log = run.log();
        assertEquals(0, run.code(), log);
        for (String name : new String[]{"adam", "norm", "gemm_wgmma"})
            assertEquals("// kernel " + name + "\n", Files.readString(out.resolve(name + ".fatbin")), name + ".fatbin: " + log);
        assertTrue(log.contains("compiling 3 file(s)"), log);
        OddCheckout.Run again = build(root, out);
        assertEquals(0, again.code(), again.log());
        assertTrue(again.log().contains("up to date"), "a second build compiled again");
    }

    /**
     * Where there is no nproc (macOS: BSD userland, where mvn -B test runs this test too) the kernels build all the
     * same: a PATH holding only the tools build.sh and the stand-in nvcc use, taken from this machine, nproc left out.
     */
    @Test
    void buildsWithoutNproc(@TempDir Path dir) throws Exception {
        Path root = checkout(dir, "adam", "norm"), tools = Files.createDirectories(dir.resolve("tools"));
        for (String tool : new String[]{"bash", "sh", "dirname", "basename", "mkdir", "ls", "head", "tail", "xargs", "mv", "cp", "grep", "readlink", "getconf"}) {
            Process which = new ProcessBuilder("bash", "-c", "command -v " + tool).start();
            String at = new String(which.getInputStream().readAllBytes()).strip();
            assumeTrue(which.waitFor() == 0 && at.startsWith("/"), tool + " is needed");
            Files.createSymbolicLink(tools.resolve(tool), Path.of(at));
        }
        Path out = root.resolve("target/classes/kernels");
        OddCheckout.Run run = build(root, out, tools.toString());
        String log = run.log();
        assertEquals(0, run.code(), log);
        for (String name : new String[]{"adam", "norm"})
            assertEquals("// kernel " + name + "\n", Files.readString(out.resolve(name + ".fatbin")), name + ".fatbin: " + log);
    }

    @Test
    void aKernelThatFailsToCompileFailsTheBuild(@TempDir Path dir) throws Exception {
        Path root = checkout(dir, "adam", "norm");
        Files.writeString(root.resolve("kernels/norm.cu"), "// broken\n");
        Path out = root.resolve("target/classes/kernels");
        OddCheckout.Run run = build(root, out);
        String log = run.log();
        assertNotEquals(0, run.code(), log);
        assertTrue(log.contains("norm.cu: error"), log);
        assertTrue(Files.exists(out.resolve("adam.fatbin")), log);
        assertTrue(!Files.exists(out.resolve("norm.fatbin")), "a failed compile left a fatbin: " + log);
    }
}
