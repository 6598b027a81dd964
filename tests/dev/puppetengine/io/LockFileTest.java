package dev.puppetengine.io;

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
