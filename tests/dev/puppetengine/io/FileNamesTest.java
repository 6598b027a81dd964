package dev.puppetengine.io;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileNamesTest {
    @Test
    void onlyOneFileNameInsideTheDirectoryIsPlain() {
        for (String ok : new String[] {"unet.safetensors", "model-00001-of-00002.safetensors", "..x", "a b"}) assertTrue(FileNames.isPlain(ok), ok);
        // "." named the directory itself (a file check later said it was no file, naming neither component nor manifest)
        for (String bad : new String[] {"", ".", "..", "../x", "/x", "a/b", "x\0y"}) assertFalse(FileNames.isPlain(bad), bad);
        // a trailing separator is dropped when parsed: "../" named the parent directory, out of the model directory
        for (String bad : new String[] {"./", "../", "..//"}) assertFalse(FileNames.isPlain(bad), bad);
    }
}
