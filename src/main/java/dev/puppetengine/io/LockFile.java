package dev.puppetengine.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Keeps a second writer (another process, or this one) out of an output while it is written: an OS lock on a small
 * file beside it. The lock dies with the process; closing releases it and deletes the file.
 */
public final class LockFile implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;

    private LockFile(Path file, FileChannel channel) {
        this.file = file;
        this.channel = channel;
    }

    /** Takes the lock, or refuses with {@code busy} (what holds it, and what to do) naming the lock file. */
    public static LockFile acquire(Path file, String busy) throws IOException {
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held;
        try {
            held = ch.tryLock();
        } catch (OverlappingFileLockException inThisProcess) {
            held = null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (held == null) {
            ch.close();
            throw new InputFileException(busy + " (" + file + " is locked)");
        }
        return new LockFile(file, ch);
    }

    @Override
    public void close() throws IOException {
        if (!channel.isOpen()) return;
        Files.deleteIfExists(file);   // while still held: never another writer's file
        channel.close();
    }
}
