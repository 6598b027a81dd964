package dev.puppetengine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

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
        return acquire(file, busy, () -> {});
    }

    /** Tests: {@code opened} runs between opening the file and locking it, where another holder's close may come. */
    static LockFile acquire(Path file, String busy, Runnable opened) throws IOException {
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        while (true) {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock held;
            try {
                opened.run();
                held = ch.tryLock();
                if (held != null && !stillNamed(file, ch)) {   // a holder's close deleted what this opened: take the file there now
                    ch.close();
                    continue;
                }
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
    }

    /**
     * Whether {@code file} still names the file {@code ch} has just locked. A holder's close deletes the file, then
     * unlocks it: a taker that opened it just before then locks a file no name leads to, while the next one creates and
     * locks a new file under the name, and both would hold the lock. Told apart by a token unique to this taker, written
     * through the channel and read back by name.
     */
    private static boolean stillNamed(Path file, FileChannel ch) throws IOException {
        byte[] token = (ProcessHandle.current().pid() + " " + Long.toHexString(ThreadLocalRandom.current().nextLong()) + "\n")
                .getBytes(StandardCharsets.US_ASCII);
        ch.truncate(0);
        AtomicFile.writeFully(ch, ByteBuffer.wrap(token));
        try {
            return Arrays.equals(Files.readAllBytes(file), token);
        } catch (NoSuchFileException deleted) {
            return false;
        }
    }

    @Override
    public void close() throws IOException {
        if (!channel.isOpen()) return;
        Files.deleteIfExists(file);   // while still held: never another writer's file
        channel.close();
    }
}
