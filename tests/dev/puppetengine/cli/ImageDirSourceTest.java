package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

    /** Hidden files are not inputs: a Mac's "._a.png" resource fork (not an image) failed the batch, exit 2. */
    @Test
    void hiddenFilesAreNotInputs() throws IOException {
        Files.write(dir.resolve("a.png"), new byte[] {1});
        Files.write(dir.resolve("._a.png"), new byte[] {0, 5, 22, 7, 0, 2, 0, 0});   // AppleDouble's magic
        Files.write(dir.resolve(".DS_Store"), new byte[] {0, 0, 0, 1});
        Files.write(dir.resolve(".b.jpg"), new byte[] {1});
        Files.writeString(dir.resolve(".b-drags.json"), "{}");
        Files.createDirectory(dir.resolve("c.png"));                                   // a folder named like an image
        assertEquals(List.of("a"), new ImageDirSource(dir, 14, false).names());
    }

    /** A phone's HEIC beside its drags file was left out of the batch in silence; it is an input that fails saying what it is. */
    @Test
    void anUnreadFormatWithItsDragsFileIsAnInputThatFailsSayingWhy() throws IOException {
        Files.write(dir.resolve("a.png"), new byte[] {1});
        Files.write(dir.resolve("b.heic"), "\0\0\0\u0018ftypheic\0\0\0\0mif1heic".getBytes(StandardCharsets.ISO_8859_1));
        Files.writeString(dir.resolve("b-drags.json"), "{\"drags\": [{\"start\": [1, 1], \"end\": [2, 2]}]}");
        Files.write(dir.resolve("c.webp"), new byte[] {1});                // no drags file: not an input
        Files.write(dir.resolve("a.heic"), new byte[] {1});                // beside a readable a.png: not an input
        Files.writeString(dir.resolve("a-drags.json"), "{}");
        ImageDirSource source = new ImageDirSource(dir, 14, false);
        assertEquals(List.of("a", "b"), source.names());
        IOException e = assertThrows(IOException.class, () -> source.load("b"));
        assertEquals("cannot read image " + dir.resolve("b.heic") + ": unsupported format: a HEIF (HEIC) image (expected PNG, JPEG, GIF, BMP or TIFF)", e.getMessage());
    }

    /**
     * Two images of one base name would be written to one GIF: refused naming both. A directory without images, or none
     * at all, is named; an image without its drags file is an input that fails naming the file it lacks.
     */
    @Test
    void imagesOfOneNameNoImagesAndAMissingDragsFileAreNamed() throws IOException {
        assertThrows(NoSuchFileException.class, () -> new ImageDirSource(dir.resolve("absent"), 14, false));
        Files.write(dir.resolve("notes.txt"), new byte[] {1});
        assertEquals(dir + ": no images (PNG, JPEG, BMP, TIFF or GIF) found", assertThrows(UserError.class, () -> new ImageDirSource(dir, 14, false)).getMessage());
        Files.write(dir.resolve("a.png"), new byte[] {1});
        Files.write(dir.resolve("a.jpg"), new byte[] {1});
        assertEquals(dir.resolve("a.png") + " and " + dir.resolve("a.jpg") + " would both be written as a.gif",
                assertThrows(UserError.class, () -> new ImageDirSource(dir, 14, false)).getMessage());
        Files.delete(dir.resolve("a.jpg"));
        ImageDirSource source = new ImageDirSource(dir, 14, false);
        assertEquals(dir.resolve("a-drags.json") + ": no drags file next to a.png", assertThrows(NoSuchFileException.class, () -> source.load("a")).getMessage());
    }
}
