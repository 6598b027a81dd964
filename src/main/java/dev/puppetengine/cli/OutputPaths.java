package dev.puppetengine.cli;

import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.image.ImageFiles;
import org.apache.commons.io.file.PathUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Checks an output path before any work is done, so a minutes-long run does not end in a permission error: the
 * nearest existing folder on the path must be a writable directory, a file output must not be an existing
 * directory, a directory output must not be a file (nor, where it would be replaced, hold files but frames), and no output
 * may be the command's own input.
 */
public final class OutputPaths {
    private OutputPaths() {}

    /** A file to be written at {@code out} (its missing parent folders are created later). */
    public static void file(String option, Path out) {
        notEmpty(option, out);
        Path abs = out.toAbsolutePath();
        if (Files.isDirectory(abs)) throw new UserError(option + " " + out + " is a directory; give a file name");
        writableAncestor(option, out, abs.getParent());
        noteLeftoversBeside(out);
    }

    /** A directory at {@code out}; {@code frames} where the command replaces it whole with PNG frames (it may hold only frames). */
    public static void directory(String option, Path out, boolean frames) {
        notEmpty(option, out);
        Path abs = out.toAbsolutePath();
        if (Files.exists(abs) && !Files.isDirectory(abs)) throw new UserError(option + " " + out + " is a file; a directory is needed here");
        if (frames && AtomicFile.holdsWorkingDirectory(abs))
            throw new UserError(option + " " + out + " is or holds the working directory, which the frames would replace whole; name a directory for them (e.g. frames/)");
        if (frames && Files.isDirectory(abs)) {
            try {
                if (!ImageFiles.holdsOnlyFrames(abs))
                    throw new UserError(option + " " + out + " holds files other than PNG frames (frame_NNN.png), which it would replace; remove them or choose another");
            } catch (IOException e) {
                throw new UserError(option + " " + out + ": cannot list it (" + Main.message(e) + ")");
            }
        }
        writableAncestor(option, out, abs);
        noteLeftoversBeside(out);
    }

    private static void notEmpty(String option, Path out) {
        if (out.toString().isEmpty()) throw new UserError(option + " is empty; give a path");
    }

    /** Notes the leftovers of writes of {@code out} cut short: beside what it names, through a symbolic link, where writes put them. */
    private static void noteLeftoversBeside(Path out) {
        Path real;
        try {
            real = AtomicFile.throughLinks(out.toAbsolutePath());
        } catch (IOException e) {
            return;   // a note only: the write will say what is wrong
        }
        if (real.getParent() != null) noteLeftovers(real.getParent(), real.getFileName() + ".tmp-", "beside " + out);
    }

    /** Notes the leftovers of writes cut short inside {@code dir}, for commands that write files there (sample-batch's and eval's GIFs). */
    public static void noteLeftoversIn(Path dir) {
        noteLeftovers(dir, "", "in " + dir);
    }

    /**
     * Notes what writes cut short by a kill left in {@code dir} (names starting {@code prefix} and holding {@code .tmp-},
     * as atomic writes name their temporaries): not removed, since another run may be writing there now, but a full
     * model's is gigabytes.
     */
    private static void noteLeftovers(Path dir, String prefix, String where) {
        if (!Files.isDirectory(dir)) return;
        List<Path> left;
        try (Stream<Path> s = Files.list(dir)) {
            left = s.filter(p -> p.getFileName().toString().startsWith(prefix) && p.getFileName().toString().contains(".tmp-")).sorted().toList();
        } catch (IOException e) {
            return;   // a note only: the write itself will say what is wrong with the folder
        }
        if (left.isEmpty()) return;
        long bytes = 0;
        for (Path p : left) {
            try {
                bytes += Files.isDirectory(p) ? PathUtils.sizeOfDirectory(p) : Files.size(p);
            } catch (IOException | UncheckedIOException e) {
                // vanished meanwhile (another run finished it): nothing to add
            }
        }
        System.err.printf(Locale.ROOT, "note: %s: %d leftover%s of writes cut short (a kill or crash), %.1f MiB: %s; remove %s unless another run"
                        + " is writing there now%n", where, left.size(), left.size() == 1 ? "" : "s", bytes / 1048576.0,
                String.join(", ", left.stream().map(p -> p.getFileName().toString()).toList()), left.size() == 1 ? "it" : "them");
    }

    /**
     * Refuses an output that would overwrite the command's input {@code in} (named by {@code input}: its option, or what
     * it is): the same file or folder however spelled, and with {@code nested} also one inside the other (an output
     * in a folder the command reads, a directory output that holds the input).
     */
    public static void notInput(String option, Path out, String input, Path in, boolean nested) {
        Path o = resolved(out), i = resolved(in);
        String said = option + " " + out + " ", theInput = " the input " + input + " " + in;
        if (o.equals(i) || sameFile(out, in))
            throw new UserError(said + "is" + theInput + ": writing it would replace the input; choose another " + option);
        if (nested && o.startsWith(i))
            throw new UserError(said + "is inside" + theInput + ": it could replace a file the command reads; choose a path outside it");
        if (nested && i.startsWith(o))
            throw new UserError(said + "contains" + theInput + ": replacing it would delete the input; choose another " + option);
    }

    /** {@code p} absolute and normalised, its existing part with links resolved, so two spellings of one place compare equal. */
    private static Path resolved(Path p) {
        Path abs = p.toAbsolutePath().normalize(), existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }

    /** One file under two names that real paths do not reveal (hard links, bind mounts). */
    private static boolean sameFile(Path a, Path b) {
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    private static void writableAncestor(String option, Path out, Path from) {
        Path p = from;
        while (p != null && !Files.exists(p)) p = p.getParent();
        if (p == null) return;   // a relative path under a vanished working directory: let the write say so
        if (!Files.isDirectory(p)) throw new UserError(option + " " + out + ": " + p + " is a file, not a directory");
        if (!Files.isWritable(p)) throw new UserError(option + " " + out + ": cannot write in " + p + " (permissions or a read-only file system)");
        try {   // isWritable answers yes for root even where nothing can be created (/proc, /sys): try it
            Files.delete(Files.createTempFile(p, ".puppet-engine-write-check", null));
        } catch (IOException e) {
            throw new UserError(option + " " + out + ": cannot create files in " + p + " (" + Main.reason(e) + ")");
        }
    }
}
