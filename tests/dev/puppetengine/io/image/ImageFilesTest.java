package dev.puppetengine.io.image;

import dev.puppetengine.testing.ImageBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageFilesTest {
    @TempDir
    Path dir;

    @Test
    void pngRoundTripIsExact() throws IOException {
        RgbImage img = pattern(23, 17);
        Path file = dir.resolve("a.png");
        ImageFiles.writePng(file, img);
        assertArrayEquals(img.pixels(), ImageFiles.readRgb(file).pixels());
        assertEquals(List.of(file), listing()); // no temporary left behind
    }

    @Test
    void bmpIsReadExactly() throws IOException {
        RgbImage img = pattern(9, 5);
        Path file = dir.resolve("a.bmp");
        assertTrue(ImageIO.write(img.toBufferedImage(), "bmp", file.toFile()));
        assertArrayEquals(img.pixels(), ImageFiles.readRgb(file).pixels());
    }

    @Test
    void jpegDecodesCloseToTheSource() throws IOException {
        RgbImage img = RgbImage.blank(32, 32);
        for (int i = 0; i < img.pixels().length; i++) img.pixels()[i] = (byte) (i / 3 % 32 * 4 + 40);
        Path file = dir.resolve("a.jpg");
        assertTrue(ImageIO.write(img.toBufferedImage(), "jpeg", file.toFile()));
        RgbImage back = ImageFiles.readRgb(file);
        int max = 0;
        for (int i = 0; i < img.pixels().length; i++) max = Math.max(max, Math.abs((img.pixels()[i] & 0xff) - (back.pixels()[i] & 0xff)));
        assertTrue(max <= 12, "JPEG max |diff| " + max);
    }

    @Test
    void alphaIsKeptAndCompositedOntoWhite() throws IOException {
        BufferedImage argb = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x80_64C8FF); // a=128, rgb=(100,200,255)
        argb.setRGB(1, 0, 0x00_123456); // fully transparent
        Path file = dir.resolve("alpha.png");
        assertTrue(ImageIO.write(argb, "png", file.toFile()));
        RgbaImage rgba = ImageFiles.readRgba(file);
        assertArrayEquals(new byte[] {100, (byte) 200, (byte) 255, (byte) 128, 0x12, 0x34, 0x56, 0}, rgba.pixels());
        assertArrayEquals(new byte[] {(byte) 177, (byte) 227, (byte) 255, (byte) 255, (byte) 255, (byte) 255},
                ImageFiles.readRgb(file).pixels());
    }

    @Test
    void greyIsReplicatedNotColourManaged() throws IOException {
        BufferedImage grey = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {0, 128, 255});
        Path file = dir.resolve("grey.png");
        assertTrue(ImageIO.write(grey, "png", file.toFile()));
        // PIL's L -> RGB copies the value; Java2D's getRGB would treat the grey as linear and brighten 128.
        assertArrayEquals(new byte[] {0, 0, 0, (byte) 128, (byte) 128, (byte) 128, (byte) 255, (byte) 255, (byte) 255},
                ImageFiles.readRgb(file).pixels());
    }

    @Test
    void sixteenBitSamplesKeepTheirHighByte() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), new int[] {16, 16, 16},
                false, false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(1, 1);
        raster.setPixel(0, 0, new int[] {0x12FF, 0xAB00, 0xFFFF});
        Path file = dir.resolve("deep.png");
        assertTrue(ImageIO.write(new BufferedImage(cm, raster, false, null), "png", file.toFile()));
        assertArrayEquals(new byte[] {0x12, (byte) 0xAB, (byte) 0xFF}, ImageFiles.readRgb(file).pixels());
    }

    @Test
    void paletteImageGoesThroughItsPalette() throws IOException {
        BufferedImage indexed = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_INDEXED);
        indexed.setRGB(0, 0, 0xFF0000);
        indexed.setRGB(1, 1, 0x0000FF);
        Path file = dir.resolve("indexed.png");
        assertTrue(ImageIO.write(indexed, "png", file.toFile()));
        RgbImage back = ImageFiles.readRgb(file);
        assertEquals(RgbImage.fromBufferedImage(indexed).pixels().length, back.pixels().length);
        assertArrayEquals(RgbImage.fromBufferedImage(indexed).pixels(), back.pixels());
    }

    @Test
    void gifGivesItsFirstCompositedFrame() throws IOException {
        RgbImage strip = ImageFiles.readRgb(Fixtures.path("gif/pil_partial_frames.png"));
        RgbImage first = ImageFiles.readRgb(Fixtures.path("gif/pil_partial.gif"));
        assertArrayEquals(strip.crop(0, 0, 40, 30).pixels(), first.pixels());
    }

    @Test
    void missingFileIsNamed() {
        Path file = dir.resolve("nope.png");
        IOException e = assertThrows(NoSuchFileException.class, () -> ImageFiles.readRgb(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void emptyFileIsNamed() throws IOException {
        assertMessage(Files.write(dir.resolve("empty.png"), new byte[0]), "empty");
    }

    @Test
    void unsupportedFormatIsNamed() throws IOException {
        assertMessage(Files.writeString(dir.resolve("notes.png"), "this is not an image"), "unsupported");
    }

    @Test
    void truncatedFileIsNamed() throws IOException {
        Path good = dir.resolve("good.png");
        ImageFiles.writePng(good, pattern(40, 40));
        byte[] bytes = Files.readAllBytes(good);
        byte[] cut = java.util.Arrays.copyOf(bytes, bytes.length / 2);
        assertMessage(Files.write(dir.resolve("cut.png"), cut), "corrupt");
    }

    /** The BMP reader reports a cut file with a bare EOFException (no message): still the file and what is wrong. */
    @Test
    void truncatedBmpIsNamed() throws IOException {
        Path good = dir.resolve("good.bmp");
        assertTrue(ImageIO.write(pattern(40, 40).toBufferedImage(), "bmp", good.toFile()));
        byte[] cut = java.util.Arrays.copyOf(Files.readAllBytes(good), 1000);
        assertMessage(Files.write(dir.resolve("cut.bmp"), cut), "corrupt or truncated BMP (end of file reached)");
    }

    @Test
    void zeroSizePngIsNamed() throws IOException {
        assertMessage(Files.write(dir.resolve("zero.png"), ImageBytes.headerOnlyPng(0, 5)), "zero size");
    }

    @Test
    void zeroSizeGifIsNamed() throws IOException {
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0, 0, 0, 0, ',', 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0x4c, 1, 0, ';'};
        assertMessage(Files.write(dir.resolve("zero.gif"), gif), "zero size");
    }

    /** Refused from the header: such a file is valid (these only start like one), but its pixels would not fit an array. */
    @Test
    void imagesTooLargeToHoldAreNamedSo() throws IOException {
        assertMessage(Files.write(dir.resolve("big.png"), ImageBytes.headerOnlyPng(30000, 30000)), "30000x30000 is too large (900000000 pixels, at most 536870911)");
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', -1, -1, -1, -1, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 1, 0, ';'};
        assertMessage(Files.write(dir.resolve("big.gif"), gif), "65535x65535 is too large");
        // one that fits an array but not the heap: refused from the header, not an OutOfMemoryError
        Path file = dir.resolve("wide.png");
        String said = assertThrows(dev.puppetengine.io.InputFileException.class, () -> ImageFiles.checkSize(file, 20000, 10000, 1L << 30)).getMessage();
        assertEquals("cannot read image " + file + ": 20000x10000 needs about 1525 MiB to decode, more than this JVM's 1024 MiB heap"
                + " (raise -Xmx through JAVA_OPTS, or give a smaller image)", said);
        ImageFiles.checkSize(file, 20000, 10000, 2L << 30);
    }

    /** A 30-byte GIF whose 1x1 screen passed the check while its frame's 65535x65535 was decoded whole (an OutOfMemoryError, or "corrupt"). */
    @Test
    void gifFramesLargerThanTheirScreenAreCheckedToo() throws IOException {
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0, -1, -1, -1, -1, 0, 2, 2, 0x4c, 1, 0, ';'};
        assertMessage(Files.write(dir.resolve("big-frame.gif"), gif), "65535x65535 is too large");
    }

    @Test
    void pngFramesGoIntoADirectoryThatHoldsNothingElse() throws IOException {
        List<RgbImage> frames = List.of(pattern(8, 6), pattern(8, 6).crop(0, 0, 8, 6), RgbImage.blank(8, 6));
        Path out = dir.resolve("frames");
        ImageFiles.writePngFrames(out, frames);
        try (var files = Files.list(out)) {
            assertEquals(List.of("frame_000.png", "frame_001.png", "frame_002.png"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        for (int i = 0; i < frames.size(); i++) {
            assertArrayEquals(frames.get(i).pixels(), ImageFiles.readRgb(out.resolve("frame_00" + i + ".png")).pixels());
        }
        assertEquals(List.of(out), listing());
        // Frames written again replace the earlier frames whole (none of the three stays beside the new two)
        ImageFiles.writePngFrames(out, frames.subList(1, 3));
        try (var files = Files.list(out)) {
            assertEquals(List.of("frame_000.png", "frame_001.png"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertArrayEquals(frames.get(2).pixels(), ImageFiles.readRgb(out.resolve("frame_001.png")).pixels());
        assertEquals(List.of(out), listing(), "no temporary sibling left");
        // but a directory holding anything else is never merged into nor deleted
        Files.writeString(out.resolve("notes.txt"), "mine");
        assertThrows(FileAlreadyExistsException.class, () -> ImageFiles.writePngFrames(out, frames));
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
        assertTrue(Files.isRegularFile(out.resolve("frame_001.png")));
    }

    private void assertMessage(Path file, String expected) {
        IOException e = assertThrows(IOException.class, () -> ImageFiles.readRgb(file));
        assertTrue(e.getMessage().contains(file.toString()), "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "message should say '" + expected + "': " + e.getMessage());
        assertFalse(e instanceof NoSuchFileException);
    }

    private List<Path> listing() throws IOException {
        try (var files = Files.list(dir)) {
            return files.toList();
        }
    }

    static RgbImage pattern(int w, int h) {
        RgbImage img = RgbImage.blank(w, h);
        for (int i = 0; i < img.pixels().length; i++) img.pixels()[i] = (byte) (i * 37 + i / 7);
        return img;
    }
}
