package dev.puppetengine.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Every file the engine writes appears under its final name complete or not at all: the content goes to a
 * temporary name in the same directory (same file system, so the rename is atomic), is fsynced, and is then
 * renamed over the target. On any failure the temporary is deleted and the target is left as it was.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of one file at a path it is given (a fresh temporary path, not yet existing). */
    @FunctionalInterface
    public interface PathWriter {
        void write(Path temp) throws IOException;
    }

    /** Writes {@code target} through {@code writer}, which fills a temporary file; replaces an existing file. */
    public static void write(Path target, PathWriter writer) throws IOException {
        Path dir = parentOf(target);
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            makeReadable(temp, "rw-r--r--");
            writer.write(temp);
            fsync(temp);
            move(temp, target);
            fsyncDirectory(dir);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(temp, e);
            throw e;
        }
    }

    /**
     * Creates directory {@code target} with the files {@code writer} puts in a temporary sibling directory,
     * then renames it into place. An existing empty directory is replaced; an existing non-empty one is an
     * error (we never delete a directory of the user's that we did not write).
     */
    public static void writeDirectory(Path target, PathWriter writer) throws IOException {
        Path parent = parentOf(target);
        Files.createDirectories(parent);
        if (Files.exists(target) && !isEmptyDirectory(target)) {
            throw new FileAlreadyExistsException(target.toString(), null,
                    "output directory exists and is not empty; remove it or choose another");
        }
        Path temp = Files.createTempDirectory(parent, "." + target.getFileName() + ".");
        try {
            makeReadable(temp, "rwxr-xr-x");
            writer.write(temp);
            try (Stream<Path> files = Files.list(temp)) {
                for (Path f : (Iterable<Path>) files::iterator) if (Files.isRegularFile(f)) fsync(f);
            }
            fsyncDirectory(temp);
            Files.deleteIfExists(target); // only an empty directory can be here
            move(temp, target);
            fsyncDirectory(parent);
        } catch (IOException | RuntimeException | Error e) {
            deleteTreeQuietly(temp, e);
            throw e;
        }
    }

    private static Path parentOf(Path target) {
        Path abs = target.toAbsolutePath();
        if (abs.getParent() == null) throw new IllegalArgumentException("cannot write to a file system root: " + target);
        return abs.getParent();
    }

    /** Temporaries are created owner-only; outputs get the usual permissions of a user's file. */
    private static void makeReadable(Path p, String perms) throws IOException {
        if (Files.getFileStore(p).supportsFileAttributeView(PosixFileAttributeView.class)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot atomically rename " + from + " to " + to + ": " + e.getMessage(), e);
        }
    }

    private static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Makes the rename itself durable; some platforms cannot open a directory, which we tolerate. */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // Not supported on this platform; the rename is still atomic, only its durability is weaker.
        }
    }

    private static boolean isEmptyDirectory(Path p) throws IOException {
        if (!Files.isDirectory(p)) return false;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
            return !s.iterator().hasNext();
        }
    }

    private static void deleteQuietly(Path p, Throwable cause) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    private static void deleteTreeQuietly(Path root, Throwable cause) {
        try (Stream<Path> all = Files.walk(root)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            cause.addSuppressed(e);
        }
    }
}
