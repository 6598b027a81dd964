package dev.puppetengine.io;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/** Checks of file names that an input file gives for files beside it (a model's components, a sharded checkpoint's shards). */
public final class FileNames {
    private FileNames() {}

    /** Whether {@code name} is one file name, resolving inside the directory: not empty, absolute, {@code .} or {@code ..}, nested, nor a path at all. */
    public static boolean isPlain(String name) {
        try {
            Path p = Path.of(name);
            String parsed = p.toString();   // "../" parses as "..": compared parsed, it is refused as ".." is
            return !name.isEmpty() && !p.isAbsolute() && p.getNameCount() == 1 && !parsed.equals(".") && !parsed.equals("..");
        } catch (InvalidPathException e) {   // a NUL, or a character the platform refuses (Windows: '?'): its caller names the file
            return false;
        }
    }
}
