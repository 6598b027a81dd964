package dev.puppetengine.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A checkout under a folder whose name holds a space, a quote and braces (as "My Projects", "Bob's" and xargs' "{}"
 * do), and its scripts run from it by a relative path with CDPATH=. exported: cd then prints where it went, which a
 * script's $(cd ... && pwd) would take in.
 */
public final class OddCheckout {
    private OddCheckout() {}

    /** What a script printed (stdout and stderr together) and its exit code. */
    public record Run(int code, String log) {}

    /** The checkout's root, made under {@code dir}. */
    public static Path create(Path dir) throws IOException {
        return Files.createDirectories(dir.resolve("Bob's {work} files"));
    }

    /** Runs {@code command} in {@code root} with the environment {@code env} changes; fails if it takes a minute. */
    public static Run run(Path root, Consumer<Map<String, String>> env, String... command) throws Exception {
        Path log = Files.createTempFile(root, "log", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("CDPATH", ".");
        env.accept(pb.environment());
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " did not finish");
        return new Run(p.exitValue(), Files.readString(log));
    }
}
