package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ImageDirSourceTest {
    @TempDir
    Path dir;

    /** Every extension of a format the engine reads is an input, TIFF's two included (a .tif was skipped in silence); others are not. */
    @Test
    void everyReadFormatsExtensionIsAnInput() throws IOException {
        for (String name : List.of("a.png", "b.JPG", "c.jpeg", "d.bmp", "e.tif", "f.TIFF", "g.gif", "h.webp", "notes.txt", "a-drags.json"))
            Files.write(dir.resolve(name), new byte[] {1});
        assertEquals(List.of("a", "b", "c", "d", "e", "f", "g"), new ImageDirSource(dir, 14, false).names());
    }
}
