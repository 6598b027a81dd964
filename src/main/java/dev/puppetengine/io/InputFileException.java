package dev.puppetengine.io;

import java.io.IOException;

/**
 * A file the user gave that is malformed or inconsistent (a dataset, a checkpoint, a JSON file, safetensors, a
 * pickle): bad input, so the CLI exits 2 with the message, which names the file and what was expected. Other
 * IOExceptions are the environment (disk, permissions: exit 1).
 */
public class InputFileException extends IOException {
    public InputFileException(String message) {
        super(message);
    }

    public InputFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
