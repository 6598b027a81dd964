package dev.puppetengine.io.safetensors;

import dev.puppetengine.io.InputFileException;

import java.nio.file.Path;

/** A safetensors file that is malformed, or a request it cannot satisfy; the message names the file. */
public final class SafetensorsException extends InputFileException {
    public SafetensorsException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public SafetensorsException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
