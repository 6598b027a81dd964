package dev.puppetengine.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps a second writer (another process, or this one) out of an output while it is written: an OS lock on a small
 * file beside it. The lock dies with the process; closing releases it and deletes the file.
 *
 * <p>The OS lock is POSIX's, owned by the process: closing any descriptor of the file in this process releases it,
 * so nothing here opens a locked file a second time. A second taker in this process is refused from {@link #HELD},
 * and whether the name still leads to the file locked is asked by {@code stat}, not by reading it.
 */
public final class LockFile implements AutoCloseable {
    /** The lock files this process holds (parent's real path + name). */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();
    /** The locks open in this process, for {@link #releaseAll}. */
    private static final Set<LockFile> OPEN = ConcurrentHashMap.newKeySet();

    private final Path file, key;
    private final FileChannel channel;

    private LockFile(Path file, Path key, FileChannel channel) {
        this.file = file;
        this.key = key;
        this.channel = channel;
    }

    /** Takes the lock, or refuses with {@code busy} (what holds it, and what to do) naming the lock file. */
    public static LockFile acquire(Path file, String busy) throws IOException {
        return acquire(file, busy, () -> {});
    }

    /** Tests: {@code opened} runs between opening the file and locking it, where another holder's close may come. */
    static LockFile acquire(Path file, String busy, Runnable opened) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path key = parent.toRealPath().resolve(file.getFileName());
        if (!HELD.add(key)) throw busy(busy, file);
        try {
            while (true) {
                Object before = identity(file);
                FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock held;
                try {
                    opened.run();
                    held = ch.tryLock();
                } catch (OverlappingFileLockException elsewhereInThisProcess) {
                    held = null;
                } catch (IOException | RuntimeException e) {
                    ch.close();
                    throw e;
                }
                if (held == null) {
                    ch.close();
                    throw busy(busy, file);
                }
                // A holder's close deletes the file, then unlocks it: one that opened it just before then holds a file no name
                // leads to, while the next creates and locks a new one under the name. The same file named before the open
                // and after the lock is the one locked (short of two more holders passing between, one reusing the number).
                if (before != null && before.equals(identity(file))) {
                    LockFile taken = new LockFile(file, key, ch);
                    OPEN.add(taken);
                    return taken;
                }
                ch.close();   // missing before (created here: looked at again) or replaced since: take the file there now
            }
        } catch (IOException | RuntimeException e) {
            HELD.remove(key);
            throw e;
        }
    }

    private static InputFileException busy(String busy, Path file) {
        return new InputFileException(busy + " (" + file + " is locked)");
    }

    /**
     * The file {@code file} names now (device and inode, by stat: no descriptor opened), or null when there is none; where
     * the file system has no file keys, only whether there is one.
     */
    private static Object identity(Path file) throws IOException {
        try {
            Object key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
            return key != null ? key : file;
        } catch (NoSuchFileException none) {
            return null;
        }
    }

    @Override
    public synchronized void close() throws IOException {   // synchronized: the owner and releaseAll may both close it
        if (!channel.isOpen()) return;
        try {
            Files.deleteIfExists(file);   // while still held: never another writer's file
        } finally {
            try {
                channel.close();
            } finally {
                HELD.remove(key);   // only once released: a taker here before then would open the file and so release it
                OPEN.remove(this);
            }
        }
    }

    /**
     * Closes every lock still open in this process, for a JVM exiting on a signal once its work has stopped (GracefulStop):
     * the OS would release them, but their files would stay behind. Failures are ignored: the process is ending.
     */
    public static void releaseAll() {
        for (LockFile l : OPEN) {
            try {
                l.close();
            } catch (IOException | RuntimeException ignored) {
                // a file that cannot be deleted stays, as after a kill: harmless, the next run takes it
            }
        }
    }
}
