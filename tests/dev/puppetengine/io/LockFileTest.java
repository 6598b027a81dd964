package dev.puppetengine.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
     * The holder closes (deleting the file, then unlocking it) after a second taker opened the file but before it locks
     * it, and a third takes a new file under the name meanwhile: the second then locked a file no name leads to, and two
     * took the lock at once (two trainings in one run directory).
     */
    @Test
    void aTakerThatLockedADeletedFileTakesTheOneThereNow(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("run.lock");
        LockFile first = LockFile.acquire(file, "busy");
        LockFile[] third = new LockFile[1];
        try {
            assertThrows(InputFileException.class, () -> LockFile.acquire(file, "busy", () -> {
                if (third[0] != null) return;   // the second's next try: nothing comes between then
                try {
                    first.close();
                    third[0] = LockFile.acquire(file, "busy");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).close(), "the third holds the lock");
        } finally {
            third[0].close();
        }
    }
}
