package dev.puppetengine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Writes files and directories so that the final name only ever holds complete content: the data goes to a
 * sibling temp name ({@code <name>.tmp-<random>}), is fsynced, then renamed atomically over the target. A
 * failure removes the temp file and leaves any previous file under the final name untouched.
 */
public final class AtomicFile {
    /** The role in the name of {@link #replaceDirectory}'s complete new copy. */
    private static final String NEW = "new-";

    private AtomicFile() {}

    /** Writes a file's content into an open channel (positioned at 0). */
    @FunctionalInterface
    public interface FileBody {
        void write(FileChannel out) throws IOException;
    }

    /** Writes a file's content at a path (for encoders that open the file themselves: ImageIO, JCodec). */
    @FunctionalInterface
    public interface PathBody {
        void write(Path temp) throws IOException;
    }

    /** Fills a (fresh, empty) directory; everything in it is fsynced before the directory is published. */
    @FunctionalInterface
    public interface DirectoryBody {
        void write(Path dir) throws IOException;
    }

    /**
     * Atomically creates or replaces {@code target} (what it names, if a symbolic link) with what {@code body} writes;
     * missing parent folders are created.
     */
    public static void write(Path target, FileBody body) throws IOException {
        writePath(target, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.write(ch);
            }
        });
    }

    /** Like {@link #write(Path, FileBody)} for a writer that opens the (empty) temporary file by path. */
    public static void writePath(Path target, PathBody body) throws IOException {
        writePath(target, body, () -> {});
    }

    /** Tests: {@code renamed} runs between the rename and the directory's fsync, where an interrupt may come. */
    static void writePath(Path target, PathBody body, Runnable renamed) throws IOException {
        target = throughLinks(target);
        Path dir = parentOf(target);
        Files.createDirectories(dir);   // as a directory's publication does: every output's missing folders are made
        Path tmp = createSibling(target, false);
        try {
            body.write(tmp);
            fsync(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw naming(target, e);
        } catch (Throwable t) {
            deleteQuietly(tmp, t);
            throw t;
        }
        renamed.run();
        fsyncRenamed(dir);
    }

    public static void writeBytes(Path target, byte[] data) throws IOException {
        write(target, ch -> writeFully(ch, ByteBuffer.wrap(data)));
    }

    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Renames {@code from} to {@code to} in one step (same file system), replacing a file there, and makes the rename
     * durable: for results built inside a work folder that a crash may leave behind.
     */
    public static void rename(Path from, Path to) throws IOException {
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncRenamed(parentOf(to));
        if (!parentOf(from).equals(parentOf(to))) fsyncRenamed(parentOf(from));
    }

    /**
     * Publishes a directory atomically: {@code body} fills {@code <target>.tmp-<random>}, which is then renamed
     * to {@code target}. The target must not exist yet (a directory cannot be atomically replaced); on failure
     * the temp directory and everything in it is removed.
     */
    public static void publishDirectory(Path target, DirectoryBody body) throws IOException {
        target = throughLinks(target);
        publishDirectory(target, target, body);
    }

    /** {@code shown}: the name a write failure gives (replaceDirectory's target, not the fresh copy beside it). */
    private static void publishDirectory(Path target, Path shown, DirectoryBody body) throws IOException {
        if (Files.exists(target)) throw new FileAlreadyExistsException(target.toString(), null, "refusing to replace an existing directory");
        Path parent = parentOf(target);
        Files.createDirectories(parent);
        Path tmp = createSibling(target, true);
        try {
            body.write(tmp);
            syncTree(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw naming(shown, inPlaceOf(e, tmp, shown));
        } catch (Throwable t) {
            deleteQuietly(tmp, t);
            throw t;
        }
        fsyncRenamed(parent);
    }

    /**
     * {@code e} with the temporary directory in its message replaced by the one its files were going to
     * ({@code shown}): the temporary one is gone by the time the user reads it. A write failure as {@link #naming} words it,
     * or a plain file-system error; anything else (an input file found bad, say) is passed on as it is.
     */
    private static IOException inPlaceOf(IOException e, Path tmp, Path shown) {
        String t = tmp.toString(), s = shown.toString();
        if (e.getClass() == FileSystemException.class) {
            FileSystemException f = (FileSystemException) e;
            if (f.getFile() == null || !f.getFile().contains(t)) return e;
            IOException moved = new FileSystemException(f.getFile().replace(t, s), f.getOtherFile() == null ? null : f.getOtherFile().replace(t, s), f.getReason());
            moved.initCause(e);
            return moved;
        }
        return e.getClass() == IOException.class && e.getMessage() != null && e.getMessage().contains(t) ? new IOException(e.getMessage().replace(t, s), e) : e;
    }

    /**
     * Refuses, before any work, a {@code target} that {@link #replaceDirectory} may not take: anything but an empty
     * directory or one that {@code ours} recognises as an earlier output of the same kind ({@code what}, with how it is
     * recognised), since replacing deletes everything in it and a mistyped path must not take unrelated files with it;
     * one it may take only with {@code force} (said first only where --force would be taken); never the working directory.
     */
    public static void checkReplaceable(Path target, boolean force, String what, Predicate<Path> ours) throws IOException {
        if (!Files.exists(target)) return;
        boolean replaceable = false;
        if (Files.isDirectory(target)) {
            try (Stream<Path> s = Files.list(target)) {
                replaceable = s.findAny().isEmpty() || ours.test(target);
            }
        }
        if (!replaceable) throw new InputFileException(target + " is not " + what + " and not empty: refusing to delete it; choose another --out");
        if (!force) throw new InputFileException(target + " already exists (use --force to replace it)");
        if (holdsWorkingDirectory(target))
            throw new InputFileException(target + " is or holds the working directory, which replacing it would delete; choose another --out");
    }

    /**
     * Whether {@code target} is the working directory or a folder above it: what {@link #replaceDirectory} must not take
     * (the rename of "." fails after all the work; by another name the directory the command runs in would be deleted).
     */
    public static boolean holdsWorkingDirectory(Path target) {
        try {
            Path t = target.toAbsolutePath().normalize();
            return Files.exists(t) && Path.of("").toRealPath().startsWith(t.toRealPath());
        } catch (IOException e) {
            return false;   // cannot be resolved: not where the command runs
        }
    }

    /**
     * Like {@link #publishDirectory} but an existing {@code target} is replaced: the new directory is published
     * beside it, then the two are swapped and the old one removed, so the name never holds a partial directory.
     * A kill between the swap's two renames leaves the name absent and the complete new copy beside it, which
     * {@link #cutShortReplacement} finds. Callers check {@code target} with {@link #checkReplaceable} first.
     */
    public static void replaceDirectory(Path target, DirectoryBody body) throws IOException {
        if (holdsWorkingDirectory(target)) throw new FileSystemException(target.toString(), null, "is or holds the working directory: not replaced");
        target = throughLinks(target);
        if (!Files.exists(target)) {
            publishDirectory(target, body);
            return;
        }
        // fresh random names, not fixed ones: a sibling that happens to be called <name>.old is not ours to delete
        Path fresh = randomSibling(target, NEW), old = randomSibling(target, "old-");
        publishDirectory(fresh, target, body);
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        Files.move(fresh, target, StandardCopyOption.ATOMIC_MOVE);
        fsyncRenamed(parentOf(target));   // the swap durable before the only other copy goes
        deleteRecursively(old);
    }

    /**
     * The complete new copy that a {@link #replaceDirectory} of {@code target} killed between its two renames left
     * beside it, or null (the target exists, or no such copy): what to tell a user who finds the target gone.
     */
    public static Path cutShortReplacement(Path target) throws IOException {
        target = throughLinks(target);   // where replaceDirectory swapped: beside what a link names
        Path parent = parentOf(target);
        if (Files.exists(target) || !Files.isDirectory(parent)) return null;
        String prefix = target.getFileName() + ".tmp-" + NEW;
        try (Stream<Path> s = Files.list(parent)) {   // a copy still being filled has a further .tmp- suffix: not complete
            return s.filter(p -> p.getFileName().toString().startsWith(prefix) && p.getFileName().toString().substring(prefix.length()).matches("[0-9a-f]+")
                    && Files.isDirectory(p)).findFirst().orElse(null);
        }
    }

    /**
     * Deletes a directory so that no kill leaves part of it under its name: it is renamed to {@code <name>.tmp-<hex>}
     * first (one step), so what a kill interrupts is a leftover for {@link #removeLeftovers}.
     */
    public static void removeDirectory(Path target) throws IOException {
        Path doomed = randomSibling(target);
        Files.move(target, doomed, StandardCopyOption.ATOMIC_MOVE);
        deleteRecursively(doomed);
    }

    /**
     * Removes what writes cut short by a kill left in {@code dir} (their {@code <name>.tmp-<hex>} files and directories)
     * and returns how many. Call it only where no other writer can be at work (the directory locked, or its one writer).
     */
    public static int removeLeftovers(Path dir) throws IOException {
        int n = 0;
        if (!Files.isDirectory(dir)) return n;
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(dir, "*.tmp-*")) {
            for (Path p : leftovers) {
                deleteRecursively(p);
                n++;
            }
        }
        return n;
    }

    /** Writes all remaining bytes of {@code src} (a channel write may be partial). */
    public static void writeFully(FileChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) ch.write(src);
    }

    /**
     * Where a write to {@code target} lands: a symbolic link (a chain of them, a dangling one too) stays a link and
     * what it names is written, as a shell's {@code >} does, instead of the rename replacing the link itself.
     */
    public static Path throughLinks(Path target) throws IOException {
        Path p = target;
        for (int hops = 0; Files.isSymbolicLink(p); hops++) {
            if (hops == 40) throw new FileSystemException(target.toString(), null, "too many levels of symbolic links");
            p = parentOf(p).resolve(Files.readSymbolicLink(p));
        }
        return p;
    }

    private static Path parentOf(Path target) {
        Path p = target.toAbsolutePath().getParent();
        if (p == null) throw new IllegalArgumentException("no parent directory for " + target);
        return p;
    }

    /** Creates a new sibling of {@code target} with a random suffix (default permissions, unlike createTempFile's 0600). */
    private static Path createSibling(Path target, boolean directory) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = randomSibling(target);
            try {
                return directory ? Files.createDirectory(p) : Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 16) throw e;
            }
        }
    }

    /** {@code <name>.tmp-<random>} beside {@code target}, not created. */
    private static Path randomSibling(Path target) {
        return randomSibling(target, "");
    }

    /** {@code <name>.tmp-<role><random>}: the role tells {@link #replaceDirectory}'s two copies apart after a kill. */
    private static Path randomSibling(Path target, String role) {
        return parentOf(target).resolve(target.getFileName() + ".tmp-" + role + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
    }

    /** fsyncs every file and directory under {@code root}, deepest first, whatever wrote them. */
    private static void syncTree(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.collect(Collectors.toList());
        }
        Collections.reverse(all);
        for (Path p : all) fsync(p);
    }

    /** fsyncs a file or directory; a directory fsync makes renames in it durable (POSIX). */
    private static void fsync(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /**
     * fsyncs the directory of a rename that is done: an interrupt (which closes the channel, failing the fsync) must not
     * make a published file look unwritten, so the fsync is retried and the interrupt kept for the caller to act on.
     */
    private static void fsyncRenamed(Path dir) throws IOException {
        boolean interrupted = Thread.interrupted();
        try {
            while (true) {
                try {
                    fsync(dir);
                    return;
                } catch (ClosedByInterruptException e) {
                    interrupted |= Thread.interrupted();   // set by the interrupt: cleared for the retry
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /**
     * A write failure without a file name ("No space left on device") names the file being written, with the innermost
     * cause's reason where the failure's own message lacks it. An input file found bad
     * while writing (a damaged tensor read to be converted) is passed on as it is: it names that file, and stays bad input (exit 2).
     * Public for writers that append to a file they hold open (a log, a part being filled).
     */
    public static IOException naming(Path target, IOException e) {
        if (e instanceof FileSystemException || e instanceof InputFileException || String.valueOf(e.getMessage()).contains(target.toString()))
            return e;
        Throwable root = e;   // an encoder's own words ("I/O error writing header!") over the disk's reason in a cause
        while (root.getCause() != null) root = root.getCause();
        String why = root != e && root.getMessage() != null && !String.valueOf(e.getMessage()).contains(root.getMessage()) ? " (" + root.getMessage() + ")" : "";
        return new IOException("writing " + target + ": " + e.getMessage() + why, e);
    }

    private static void deleteQuietly(Path p, Throwable cause) {
        try {
            deleteRecursively(p);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) deleteRecursively(c);
            }
        }
        Files.deleteIfExists(p);
    }
}
