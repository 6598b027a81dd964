package dev.puppetengine.train;

import dev.puppetengine.io.LockFile;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A training run's directory, held by one run at a time: a second run there would interleave its steps in log.jsonl
 * and prune checkpoints the first resumes from. The training commands lock it (run.lock) before they load anything
 * and keep it until they have exported, so a second run is refused at once; the OS drops the lock of a killed process.
 * A run refused before it wrote anything leaves no directory behind where there was none.
 */
public final class RunDirectory implements AutoCloseable {
    static final String LOCK = "run.lock";

    private final Path path;
    private final LockFile lock;
    private final Path created;   // the outermost directory the lock created, or null

    private RunDirectory(Path path, LockFile lock, Path created) {
        this.path = path;
        this.lock = lock;
        this.created = created;
    }

    /** Locks {@code path} (created if missing) for this run, or refuses naming the lock. */
    public static RunDirectory lock(Path path) throws IOException {
        Path created = null;   // normalized: a "." or ".." in --out names no directory of its own (rmdir refuses "fresh/.")
        for (Path p = path.toAbsolutePath().normalize(); p != null && !Files.exists(p); p = p.getParent()) created = p;
        return new RunDirectory(path, LockFile.acquire(path.resolve(LOCK),
                path + ": another train, train-vae or fit-image-encoder is writing there; wait for it to end or choose another --out"), created);
    }

    public Path path() { return path; }

    /** Releases the directory to the next run. */
    @Override
    public void close() throws IOException {
        lock.close();
        if (created == null) return;
        // the directories made for the lock go again if nothing else was written there (a run refused at its start)
        for (Path p = path.toAbsolutePath().normalize(); p != null && p.startsWith(created); p = p.getParent()) {
            try {
                Files.deleteIfExists(p);
            } catch (DirectoryNotEmptyException written) {
                return;
            }
        }
    }
}
