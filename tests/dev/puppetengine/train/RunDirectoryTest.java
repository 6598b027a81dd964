package dev.puppetengine.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RunDirectoryTest {
    /** A "." in the part of --out that did not exist: closing removes what the lock created instead of failing on "fresh/.". */
    @Test
    void aRunRefusedAtItsStartRemovesItsDirectoriesThroughADotComponent(@TempDir Path dir) throws Exception {
        RunDirectory run = RunDirectory.lock(dir.resolve("fresh/./run"));
        assertTrue(Files.isDirectory(dir.resolve("fresh/run")));
        run.close();
        assertFalse(Files.exists(dir.resolve("fresh")), "nothing left at " + dir.resolve("fresh"));
    }

    /** Directories that were there before the lock stay, empty or not; only what it created goes. */
    @Test
    void directoriesThatExistedStay(@TempDir Path dir) throws Exception {
        Path existing = Files.createDirectories(dir.resolve("runs"));
        try (RunDirectory run = RunDirectory.lock(existing)) {
            assertTrue(Files.exists(existing.resolve(RunDirectory.LOCK)));
        }
        assertTrue(Files.isDirectory(existing));
        try (RunDirectory run = RunDirectory.lock(existing.resolve("a/b"))) {
            assertTrue(Files.isDirectory(existing.resolve("a/b")));
        }
        assertFalse(Files.exists(existing.resolve("a")));
        assertTrue(Files.isDirectory(existing));
    }
}
