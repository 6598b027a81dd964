package dev.puppetengine.io;

import java.nio.file.Path;

/** Checks of file names that an input file gives for files beside it (a model's components, a sharded checkpoint's shards). */
public final class FileNames {
    private FileNames() {}

    /** Whether {@code name} is one file name, resolving inside the directory: not empty, absolute, {@code ..}, nested or no path at all (a NUL). */
    public static boolean isPlain(String name) {
        return !name.isEmpty() && name.indexOf('\0') < 0 && !Path.of(name).isAbsolute() && Path.of(name).getNameCount() == 1 && !name.equals("..");
    }
}
