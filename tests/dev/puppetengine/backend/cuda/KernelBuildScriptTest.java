package dev.puppetengine.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

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

    private static Process build(Path root, Path out) throws Exception {
        return build(root, out, System.getenv("PATH"));
    }

    private static Process build(Path root, Path out, String path) throws Exception {
        Path nvcc = root.resolve("nvcc");
        Files.writeString(nvcc, FAKE_NVCC);
        Files.setPosixFilePermissions(nvcc, PosixFilePermissions.fromString("rwxr-xr-x"));
        // by a relative path with CDPATH exported, as by hand from the checkout (Maven gives an absolute one): cd then
        // prints where it went, which $(cd ... && pwd) would take in
        ProcessBuilder pb = new ProcessBuilder("bash", "kernels/build.sh", out.toString()).directory(root.toFile())
                .redirectErrorStream(true).redirectOutput(root.resolve("log.txt").toFile());
        pb.environment().put("CDPATH", ".");
        pb.environment().put("NVCC", nvcc.toString());
        pb.environment().put("PATH", path);
        pb.environment().remove("CUDA_SKIP");
        pb.environment().remove("CUDA_ARCHS");
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "build.sh did not finish");
        return p;
    }

    private static Path checkout(Path dir, String... kernels) throws Exception {
        // a space, a quote and a brace, as a user's folder may hold ("My Projects", "Bob's", xargs' "{}")
        Path root = Files.createDirectories(dir.resolve("Bob's {work} files"));
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
        Process p = build(root, out);
        String log = Files.readString(root.resolve("log.txt"));
        assertEquals(0, p.exitValue(), log);
        for (String name : new String[]{"adam", "norm", "gemm_wgmma"})
            assertEquals("// kernel " + name + "\n", Files.readString(out.resolve(name + ".fatbin")), name + ".fatbin: " + log);
        assertTrue(log.contains("compiling 3 file(s)"), log);
        assertEquals(0, build(root, out).exitValue());
        assertTrue(Files.readString(root.resolve("log.txt")).contains("up to date"), "a second build compiled again");
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
        Process p = build(root, out, tools.toString());
        String log = Files.readString(root.resolve("log.txt"));
        assertEquals(0, p.exitValue(), log);
        for (String name : new String[]{"adam", "norm"})
            assertEquals("// kernel " + name + "\n", Files.readString(out.resolve(name + ".fatbin")), name + ".fatbin: " + log);
    }

    @Test
    void aKernelThatFailsToCompileFailsTheBuild(@TempDir Path dir) throws Exception {
        Path root = checkout(dir, "adam", "norm");
        Files.writeString(root.resolve("kernels/norm.cu"), "// broken\n");
        Path out = root.resolve("target/classes/kernels");
        Process p = build(root, out);
        String log = Files.readString(root.resolve("log.txt"));
        assertNotEquals(0, p.exitValue(), log);
        assertTrue(log.contains("norm.cu: error"), log);
        assertTrue(Files.exists(out.resolve("adam.fatbin")), log);
        assertTrue(!Files.exists(out.resolve("norm.fatbin")), "a failed compile left a fatbin: " + log);
    }
}
