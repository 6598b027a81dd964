package dev.puppetengine.io;

import java.nio.file.Path;

/** Another process for {@link LockFileTest}: takes the lock file args[0] and prints "locked" or "busy". */
public final class LockProbe {
    public static void main(String[] args) throws Exception {
        try (LockFile l = LockFile.acquire(Path.of(args[0]), "busy")) {
            System.out.print("locked");
        } catch (InputFileException e) {
            System.out.print("busy");
        }
    }
}
