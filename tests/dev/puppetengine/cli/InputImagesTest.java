package dev.puppetengine.cli;

import dev.puppetengine.io.image.ExifOrientation;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.testing.ImageBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** An input image's EXIF orientation: applied with --auto-orient, else noted, and neither when it is the normal one. */
class InputImagesTest {
    @TempDir
    Path dir;

    private static final RgbImage STORED = new RgbImage(3, 2, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18});

    @Test
    void aNormalOrMissingOrientationIsUsedSilently() throws IOException {
        Path plain = dir.resolve("plain.png"), tagged = Files.write(dir.resolve("tagged.png"), ImageBytes.png(STORED, ImageBytes.tiff(1, ByteOrder.BIG_ENDIAN)));
        ImageFiles.writePng(plain, STORED);
        for (Path file : List.of(plain, tagged)) {
            for (boolean autoOrient : new boolean[] {false, true}) {
                List<String> notes = new ArrayList<>();
                assertArrayEquals(STORED.pixels(), InputImages.read(file, autoOrient, notes::add).pixels(), file + " " + autoOrient);
                assertEquals(List.of(), notes);
            }
        }
    }

    @Test
    void anotherOrientationIsAppliedOnRequestElseNoted() throws IOException {
        Path file = Files.write(dir.resolve("sideways.png"), ImageBytes.png(STORED, ImageBytes.tiff(6, ByteOrder.LITTLE_ENDIAN)));
        List<String> notes = new ArrayList<>();
        RgbImage turned = InputImages.read(file, true, notes::add);
        assertEquals(List.of(), notes);
        assertEquals(2, turned.width());
        assertArrayEquals(ExifOrientation.apply(STORED, 6).pixels(), turned.pixels());
        assertArrayEquals(STORED.pixels(), InputImages.read(file, false, notes::add).pixels());
        assertEquals(List.of("note: " + file + ": its EXIF orientation says viewers show it turned 90 degrees clockwise; the model sees the stored"
                + " 3x2 pixels as they are, and drags are positions in them (add --auto-orient to use the image as viewers show it)"), notes);
    }
}
