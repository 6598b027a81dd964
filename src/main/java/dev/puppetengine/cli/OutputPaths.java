package dev.puppetengine.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks an output path before any work is done, so a minutes-long run does not end in a permission error: the
 * nearest existing folder on the path must be a writable directory, a file output must not be an existing
 * directory, a directory output must not be a file (nor, where it would be replaced, hold files).
 */
public final class OutputPaths {
    private OutputPaths() {}

    /** A file to be written at {@code out} (its missing parent folders are created later). */
    public static void file(String option, Path out) {
        Path abs = out.toAbsolutePath();
        if (Files.isDirectory(abs)) throw new UserError(option + " " + out + " is a directory; give a file name");
        writableAncestor(option, out, abs.getParent());
    }

    /** A directory at {@code out}; {@code mustBeEmpty} where the command would replace it whole (PNG frames). */
    public static void directory(String option, Path out, boolean mustBeEmpty) {
        Path abs = out.toAbsolutePath();
        if (Files.exists(abs) && !Files.isDirectory(abs)) throw new UserError(option + " " + out + " is a file; a directory is needed here");
        if (mustBeEmpty && Files.isDirectory(abs)) {
            try (var entries = Files.list(abs)) {
                if (entries.findAny().isPresent()) throw new UserError(option + " " + out + " exists and is not empty; remove it or choose another");
            } catch (IOException e) {
                throw new UserError(option + " " + out + ": cannot list it (" + e.getMessage() + ")");
            }
        }
        writableAncestor(option, out, abs);
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
