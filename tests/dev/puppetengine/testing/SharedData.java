package dev.puppetengine.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared, uncommitted data (e.g. {@code shared/data/dragamove-test}) next to the project: the
 * nearest {@code shared/data} in the project root's parent or its ancestors, so both {@code /work/main}
 * and worktrees nested deeper find it. Tests that need it are skipped when it is absent (a fresh clone).
 */
public final class SharedData {
    private SharedData() {}

    /** {@code shared/data/<relative>}, or skips the calling test when no such directory exists. */
    public static Path require(String relative) {
        Path root = Path.of("").toAbsolutePath();   // surefire runs in the project root (where pom.xml is)
        for (Path p = root.getParent(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("data").resolve(relative);
            if (Files.isDirectory(candidate)) return candidate;
        }
        return Assumptions.abort("shared data '" + relative + "' not found above " + root);
    }
}
