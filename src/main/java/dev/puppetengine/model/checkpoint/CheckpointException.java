package dev.puppetengine.model.checkpoint;

import java.nio.file.Path;

/** A checkpoint that cannot be used: names the file and what is wrong with it. */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
