package dev.puppetengine.io;

import dev.puppetengine.testing.OpenFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One holder at a time, also when a holder lets go while another is taking the lock. */
class LockFileTest {
    @Test
    void aSecondHolderIsRefusedAndTheLockPassesOnAfterClose(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("run.lock");
        try (LockFile first = LockFile.acquire(file, "busy")) {
            String msg = assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy")).getMessage();
            assertTrue(msg.startsWith("busy (") && msg.contains(file.toString()), msg);
        }
        assertFalse(Files.exists(file), "closing deletes the lock file");
        LockFile.acquire(file, "busy").close();
    }

    /**
     * Another process is refused while this one holds the lock, also after a second taker here was refused: the OS lock
     * is the process's, and closing any descriptor of the file released it (that refusal closed the file it had opened).
     */
    @Test
    void anotherProcessIsRefusedAlsoAfterARefusalHere(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("run.lock");
        try (LockFile held = LockFile.acquire(file, "busy")) {
            assertEquals("busy", probe(file));
            assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy"));
            assertEquals("busy", probe(file), "still held after the refusal here");
        }
        assertEquals("locked", probe(file));
    }

    /**
     * Between this taker's open and its lock, the holder lets go (deleting the file) and another process creates and
     * locks a new file under the name: this one locked a file no name leads to, and both held the lock.
     */
    @Test
    void aTakerThatLockedADeletedFileTakesTheOneThereNow(@TempDir Path dir) throws IOException {
        Path file = Files.createFile(dir.resolve("run.lock"));   // as a holder's, about to be deleted
        FileChannel[] other = new FileChannel[1];
        try {
            assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy", () -> {
                if (other[0] != null) return;   // the next try: nothing comes between then
                try {
                    Files.delete(file);
                    other[0] = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    other[0].lock();   // the new holder (in this process: another channel's lock refuses as another process's does)
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).close());
        } finally {
            other[0].close();
        }
    }

    /**
     * A second close does nothing: once closed, the name may already be another holder's lock, which it must neither delete
     * nor release.
     */
    @Test
    void closingTwiceLeavesTheNextHoldersLockAlone(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("run.lock");
        LockFile first = LockFile.acquire(file, "busy");
        first.close();
        try (LockFile next = LockFile.acquire(file, "busy")) {
            first.close();
            assertTrue(Files.exists(file), "the next holder's lock file is still there");
            assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy"));
        }
    }

    /** Neither a taker refused by a lock held elsewhere nor a closed holder keeps a descriptor of the file open. */
    @Test
    void refusedAndClosedTakersLeaveNoDescriptorOpen(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("run.lock");
        long before = OpenFiles.count();
        for (int i = 0; i < 32; i++) LockFile.acquire(file, "busy").close();
        assertTrue(OpenFiles.count() < before + 16, before + " open files before, " + OpenFiles.count() + " after");
        try (FileChannel other = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            other.lock();   // another channel's lock: refused as another process's is
            long held = OpenFiles.count();
            for (int i = 0; i < 32; i++) assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy"));
            assertTrue(OpenFiles.count() < held + 16, held + " open files before, " + OpenFiles.count() + " after");
        }
    }

    /**
     * Runs {@link LockProbe} in a new JVM on {@code file}: "locked" or "busy", its stdout. Its stderr goes to this JVM's:
     * a JVM writes notes there that are not the probe's (JAVA_TOOL_OPTIONS or _JAVA_OPTIONS set: "Picked up ...").
     */
    private static String probe(Path file) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockProbe.class.getName(), file.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe did not end");
        return out;
    }
}
