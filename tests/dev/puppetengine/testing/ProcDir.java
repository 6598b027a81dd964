package dev.puppetengine.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Linux's /proc as an output where nothing can be created, for tests that such an output is refused before any work. */
public final class ProcDir {
    private ProcDir() {}

    /**
     * Why an output in /proc is refused, as the commands say it after the option and the path: its permissions
     * (r-x for all) let root write there, so for root the refusal comes from trying to create a file; for anyone else
     * from the permissions already.
     */
    public static String refusal() {
        return Files.isWritable(Path.of("/proc")) ? "cannot create files in /proc (" : "cannot write in /proc (permissions or a read-only file system)";
    }
}
