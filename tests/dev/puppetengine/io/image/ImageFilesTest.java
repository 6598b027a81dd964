package dev.puppetengine.io.image;

import dev.puppetengine.io.InputFileException;
import dev.puppetengine.testing.ImageBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.IIOException;
import javax.imageio.ImageReader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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

    /**
     * A truncated baseline JPEG: the JDK's decoder only warns ("Missing EOI marker") and fills the missing rows with grey, which
     * was then sampled; PIL refuses such a file ("image file is truncated").
     */
    @Test
    void truncatedJpegIsRefusedNotFilledWithGrey() throws IOException {
        RgbImage img = pattern(64, 64);
        Path good = dir.resolve("good.jpg");
        assertTrue(ImageIO.write(img.toBufferedImage(), "jpeg", good.toFile()));
        byte[] bytes = Files.readAllBytes(good);
        assertMessage(Files.write(dir.resolve("cut.jpg"), Arrays.copyOf(bytes, bytes.length * 2 / 3)), "corrupt or truncated JPEG (Truncated File - Missing EOI marker)");
    }

    /**
     * An embedded ICC profile is ignored in a JPEG as in a PNG (PIL applies none): the same JPEG data with a linear-RGB profile
     * decode to the same pixels (the JDK's reader converted them from the profile to sRGB, 155 -> 205), and with a grey profile
     * on a colour image, which the JDK refused as corrupt, too.
     */
    @Test
    void jpegIccProfileIsIgnored() throws IOException {
        RgbImage img = pattern(32, 24);
        Path plain = dir.resolve("plain.jpg");
        assertTrue(ImageIO.write(img.toBufferedImage(), "jpeg", plain.toFile()));
        byte[] bytes = Files.readAllBytes(plain);
        byte[] expected = ImageFiles.readRgb(plain).pixels();
        for (int cs : new int[] {ColorSpace.CS_LINEAR_RGB, ColorSpace.CS_GRAY}) {
            Path file = Files.write(dir.resolve("icc" + cs + ".jpg"), ImageBytes.withIccProfile(bytes, ICC_Profile.getInstance(cs).getData()));
            assertArrayEquals(expected, ImageFiles.readRgb(file).pixels(), "profile of colour space " + cs);
        }
    }

    /**
     * CMYK and YCCK JPEGs (Photoshop's, with the Adobe marker) come out as PIL's convert("RGB") makes them, R = 255 - C - K + C*K/255
     * (ink values), not through Java2D's CMYK colour space, which took (1 - C)(1 - K) as linear light and so washed them out.
     */
    @Test
    void cmykAndYcckJpegsConvertAsPilDoes() throws IOException {
        int[] stored = {200, 100, 128, 160};   // inverted ink: C = 55, M = 155, Y = 127, K = 95
        int[] pil = {125, 63, 80};             // stored colour * stored K / 255, rounded
        for (boolean ycck : new boolean[] {false, true}) {
            Path file = Files.write(dir.resolve(ycck ? "ycck.jpg" : "cmyk.jpg"), ImageBytes.cmykJpeg(16, 8, stored, ycck));
            byte[] rgb = ImageFiles.readRgb(file).pixels();
            assertEquals(16 * 8 * 3, rgb.length);
            for (int i = 0; i < rgb.length; i++)
                assertTrue(Math.abs((rgb[i] & 0xff) - pil[i % 3]) <= 2, (ycck ? "YCCK" : "CMYK") + " channel " + i % 3 + ": " + (rgb[i] & 0xff) + ", PIL " + pil[i % 3]);
        }
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
    void sixteenBitAlphaKeepsItsHighByteToo() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), new int[] {16, 16, 16, 16},
                true, false, Transparency.TRANSLUCENT, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(1, 1);
        raster.setPixel(0, 0, new int[] {0x12FF, 0xAB00, 0xFFFF, 0x80FF});
        Path file = dir.resolve("deep-alpha.png");
        assertTrue(ImageIO.write(new BufferedImage(cm, raster, false, null), "png", file.toFile()));
        assertArrayEquals(new byte[] {0x12, (byte) 0xAB, (byte) 0xFF, (byte) 0x80}, ImageFiles.readRgba(file).pixels());
    }

    /**
     * Only straight 8- or 16-bit grey or RGB samples are taken as they are; any other colour model (premultiplied alpha, another
     * colour space, components of mixed or other widths) goes through Java2D's conversion, as {@link RgbImage#fromBufferedImage}.
     */
    @Test
    void otherColourModelsGoThroughJava2D() {
        BufferedImage pre = new BufferedImage(1, 1, BufferedImage.TYPE_4BYTE_ABGR_PRE);
        pre.setRGB(0, 0, 0x80_FF0000);   // stored premultiplied: red 128
        assertArrayEquals(argbBytes(pre), ImageFiles.toRgba(pre).pixels());
        assertEquals((byte) 0xff, ImageFiles.toRgba(pre).pixels()[0]);
        assertThroughJava2D(ColorSpace.CS_CIEXYZ, new int[] {8, 8, 8}, DataBuffer.TYPE_BYTE, new int[] {40, 200, 90});
        assertThroughJava2D(ColorSpace.CS_sRGB, new int[] {16, 16, 16, 8}, DataBuffer.TYPE_USHORT, new int[] {0x1000, 0x8000, 0xF000, 255});
        assertThroughJava2D(ColorSpace.CS_sRGB, new int[] {10, 10, 10}, DataBuffer.TYPE_USHORT, new int[] {3, 514, 1021});
    }

    private static void assertThroughJava2D(int space, int[] bits, int type, int[] samples) {
        boolean alpha = bits.length == 4;
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(space), bits, alpha, false,
                alpha ? Transparency.TRANSLUCENT : Transparency.OPAQUE, type);
        WritableRaster raster = cm.createCompatibleWritableRaster(1, 1);
        raster.setPixel(0, 0, samples);
        BufferedImage img = new BufferedImage(cm, raster, false, null);
        byte[] expected = argbBytes(img), plain = new byte[4];
        int shift = bits[0] - 8;
        for (int c = 0; c < 4; c++) plain[c] = (byte) (c < 3 ? samples[c] >> shift : alpha ? samples[3] >> shift : 255);
        assertFalse(Arrays.equals(expected, plain), "a case where the samples would differ");
        assertArrayEquals(expected, ImageFiles.toRgba(img).pixels(), Arrays.toString(bits));
    }

    /** RGBA bytes of a 1x1 image through getRGB. */
    private static byte[] argbBytes(BufferedImage img) {
        int v = img.getRGB(0, 0);
        return new byte[] {(byte) (v >> 16), (byte) (v >> 8), (byte) v, (byte) (v >>> 24)};
    }

    @Test
    void paletteImageGoesThroughItsPalette() throws IOException {
        BufferedImage indexed = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_INDEXED);
        indexed.setRGB(0, 0, 0xFF0000);
        indexed.setRGB(1, 1, 0x0000FF);
        indexed.setRGB(1, 0, 0x00FF00);
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
        assertEquals(file + ": no such image file", e.getMessage());
    }

    @Test
    void aDirectoryIsNamedSo() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("photos.png"));
        assertEquals("cannot read image " + sub + ": it is a directory, not an image file",
                assertThrows(InputFileException.class, () -> ImageFiles.readRgb(sub)).getMessage());
    }

    @Test
    void emptyFileIsNamed() throws IOException {
        assertMessage(Files.write(dir.resolve("empty.png"), new byte[0]), "the file is empty");
    }

    @Test
    void unsupportedFormatIsNamed() throws IOException {
        assertMessage(Files.writeString(dir.resolve("notes.png"), "this is not an image"), "unsupported");
    }

    /** Formats a phone or browser gives that the JDK does not decode are named as such, with the formats that are read. */
    @Test
    void commonUnreadFormatsAreNamed() throws IOException {
        byte[] webp = "RIFF\u0024\0\0\0WEBPVP8 \0\0\0\0".getBytes(StandardCharsets.ISO_8859_1);
        byte[] heic = "\0\0\0\u0018ftypheic\0\0\0\0mif1heic".getBytes(StandardCharsets.ISO_8859_1);
        byte[] avif = "\0\0\0\u001cftypavif\0\0\0\0avifmif1miaf".getBytes(StandardCharsets.ISO_8859_1);
        assertMessage(Files.write(dir.resolve("photo.webp"), webp), ": unsupported format: a WebP image (expected PNG, JPEG, GIF, BMP or TIFF)");
        assertMessage(Files.write(dir.resolve("IMG_0001.HEIC"), heic), ": unsupported format: a HEIF (HEIC) image (expected PNG, JPEG, GIF, BMP or TIFF)");
        assertMessage(Files.write(dir.resolve("photo.avif"), avif), ": unsupported format: an AVIF image (expected PNG, JPEG, GIF, BMP or TIFF)");
    }

    /** TIFF, which javax.imageio reads, is one of the formats read (16-bit samples keep their high byte, as in a PNG). */
    @Test
    void tiffIsRead() throws IOException {
        RgbImage img = pattern(9, 5);
        Path file = dir.resolve("a.tif");
        assertTrue(ImageIO.write(img.toBufferedImage(), "tiff", file.toFile()));
        assertArrayEquals(img.pixels(), ImageFiles.readRgb(file).pixels());
    }

    @Test
    void truncatedFileIsNamed() throws IOException {
        Path good = dir.resolve("good.png");
        ImageFiles.writePng(good, pattern(40, 40));
        byte[] bytes = Files.readAllBytes(good);
        byte[] cut = Arrays.copyOf(bytes, bytes.length / 2);
        Path file = Files.write(dir.resolve("cut.png"), cut);
        IOException e = assertThrows(IOException.class, () -> ImageFiles.readRgb(file));
        assertNotNull(e.getCause().getMessage());
        assertEquals("cannot read image " + file + ": corrupt or truncated PNG (" + e.getCause().getMessage() + ")", e.getMessage());
    }

    /** Shorter than the 26 bytes that hold every header's size: corrupt, not "zero size" from the bytes that are not there. */
    @Test
    void aFileShorterThanAnyHeaderIsCorruptNotZeroSized() throws IOException {
        byte[] cut = Arrays.copyOf(ImageBytes.headerOnlyPng(5, 5), 20);
        assertMessage(Files.write(dir.resolve("short.png"), cut), "corrupt or truncated PNG");
    }

    /** The BMP reader reports a cut file with a bare EOFException (no message): still the file and what is wrong. */
    @Test
    void truncatedBmpIsNamed() throws IOException {
        Path good = dir.resolve("good.bmp");
        assertTrue(ImageIO.write(pattern(40, 40).toBufferedImage(), "bmp", good.toFile()));
        byte[] cut = Arrays.copyOf(Files.readAllBytes(good), 1000);
        assertMessage(Files.write(dir.resolve("cut.bmp"), cut), "corrupt or truncated BMP (end of file reached)");
    }

    @Test
    void zeroSizePngIsNamed() throws IOException {
        assertMessage(Files.write(dir.resolve("zero.png"), ImageBytes.headerOnlyPng(0, 5)), "it has zero size (0x5)");
        assertMessage(Files.write(dir.resolve("flat.png"), ImageBytes.headerOnlyPng(5, 0)), "it has zero size (5x0)");
    }

    @Test
    void zeroSizeGifIsNamed() throws IOException {
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0, 0, 0, 0, ',', 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0x4c, 1, 0, ';'};
        assertMessage(Files.write(dir.resolve("zero.gif"), gif), "zero size");
    }

    /** A BMP header with width 0, which the decoder fails on: the zero size read from the header is what is said. */
    @Test
    void zeroSizeBmpIsNamed() throws IOException {
        Path good = dir.resolve("good.bmp");
        assertTrue(ImageIO.write(pattern(4, 3).toBufferedImage(), "bmp", good.toFile()));
        byte[] bmp = Files.readAllBytes(good);
        ByteBuffer.wrap(bmp).order(ByteOrder.LITTLE_ENDIAN).putInt(18, 0);
        assertMessage(Files.write(dir.resolve("zero.bmp"), bmp), "it has zero size (0x3)");
    }

    /** A GIF whose screen is 0 wide and whose frames are cut short: as a PNG's, the size from the header is what is said. */
    @Test
    void zeroSizeCutGifIsNamed() throws IOException {
        Path good = dir.resolve("good.gif");
        GifFiles.write(good, Animation.uniform(List.of(pattern(40, 30), pattern(40, 30).crop(0, 0, 40, 30)), 100));
        byte[] gif = Arrays.copyOf(Files.readAllBytes(good), 200);
        gif[6] = 0;
        gif[7] = 0;
        Path file = Files.write(dir.resolve("zero.gif"), gif);
        IOException e = assertThrows(IOException.class, () -> GifFiles.read(file));
        assertEquals("cannot read image " + file + ": it has zero size (0x30)", e.getMessage());
    }

    /** Refused from the header: such a file is valid (these only start like one), but it has more pixels than PIL takes. */
    @Test
    void imagesTooLargeToHoldAreNamedSo() throws IOException {
        assertMessage(Files.write(dir.resolve("big.png"), ImageBytes.headerOnlyPng(30000, 30000)), "30000x30000 is too large (900000000 pixels, at most 178956970, PIL's limit)");
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', -1, -1, -1, -1, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 1, 0, ';'};
        assertMessage(Files.write(dir.resolve("big.gif"), gif), "65535x65535 is too large");
        // one under the limit but over the heap: refused from the header, not an OutOfMemoryError
        Path file = dir.resolve("wide.png");
        String said = assertThrows(InputFileException.class, () -> ImageFiles.checkSize(file, 12000, 10000, 1L << 29)).getMessage();
        assertEquals("cannot read image " + file + ": 12000x10000 needs about 915 MiB to decode, more than this JVM's 512 MiB heap"
                + " (raise -Xmx through JAVA_OPTS, or give a smaller image)", said);
        ImageFiles.checkSize(file, 12000, 10000, 1L << 30);
    }

    /**
     * A complete small JPEG whose frame header claims 20000x20000: the decoder only warns that its data ends early and fills
     * the rest with grey, taking half a minute and gigabytes. PIL refuses it by its size (a decompression bomb): so here.
     */
    @Test
    void jpegClaimingAHugeSizeIsRefusedFromItsHeader() throws IOException {
        Path small = dir.resolve("small.jpg");
        assertTrue(ImageIO.write(pattern(96, 64).toBufferedImage(), "jpeg", small.toFile()));
        byte[] jpeg = Files.readAllBytes(small);
        int sof = 2;
        while ((jpeg[sof + 1] & 0xff) != 0xc0) sof += 2 + ((jpeg[sof + 2] & 0xff) << 8 | (jpeg[sof + 3] & 0xff));   // segment by segment to SOF0
        for (int at : new int[] {sof + 5, sof + 7}) { jpeg[at] = (byte) (20000 >> 8); jpeg[at + 1] = (byte) 20000; }   // height, width
        long start = System.nanoTime();
        assertMessage(Files.write(dir.resolve("claims-20000.jpg"), jpeg), "20000x20000 is too large (400000000 pixels, at most 178956970, PIL's limit)");
        assertTrue(System.nanoTime() - start < 5_000_000_000L, "refused from the header, not after decoding");
    }

    /** checkSize's limits are inclusive: a side of 0 is refused, MAX_PIXELS pixels and exactly the heap are taken. */
    @Test
    void sizeLimitsAreExact() throws IOException {
        Path file = dir.resolve("x.png");
        assertEquals("cannot read image " + file + ": it has zero size (0x1)",
                assertThrows(IOException.class, () -> ImageFiles.checkSize(file, 0, 1, Long.MAX_VALUE)).getMessage());
        assertEquals("cannot read image " + file + ": it has zero size (1x0)",
                assertThrows(IOException.class, () -> ImageFiles.checkSize(file, 1, 0, Long.MAX_VALUE)).getMessage());
        ImageFiles.checkSize(file, 1, 1, Long.MAX_VALUE);
        ImageFiles.checkSize(file, (int) ImageFiles.MAX_PIXELS, 1, Long.MAX_VALUE);
        assertThrows(IOException.class, () -> ImageFiles.checkSize(file, (int) ImageFiles.MAX_PIXELS + 1, 1, Long.MAX_VALUE));
        long heap = 1000L * 1000 * ImageFiles.DECODE_BYTES_PER_PIXEL;
        ImageFiles.checkSize(file, 1000, 1000, heap);
        assertThrows(IOException.class, () -> ImageFiles.checkSize(file, 1000, 1000, heap - 1));
    }

    /**
     * Java 17.0.3 and older refuse CMYK and YCCK JPEGs with "Unsupported Image Type" (this runtime decodes them, so the
     * decoder's refusal is handed in): said as what it is, not as a corrupt file.
     */
    @Test
    void oldRuntimesRefusingCmykJpegsAreNotCalledCorrupt() throws IOException {
        Path file = Files.write(dir.resolve("cmyk.jpg"), ImageBytes.cmykJpeg(16, 8, new int[] {10, 20, 30, 40}, false));
        ImageReader jpeg = ImageIO.getImageReadersByFormatName("jpeg").next();
        assertEquals("cannot read image " + file + ": a JPEG this Java runtime (" + System.getProperty("java.version") + ") cannot decode"
                        + " (Unsupported Image Type: CMYK and YCCK JPEGs need Java 17.0.4 or newer); use a newer Java, or save the image as RGB",
                ImageFiles.unreadable(file, jpeg, new IIOException("Unsupported Image Type")).getMessage());
        assertTrue(ImageFiles.unreadable(file, jpeg, new IIOException("Bogus marker length")).getMessage()
                .endsWith(": corrupt or truncated JPEG (Bogus marker length)"));
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

    /** Names have three digits up to frame 999 (a thousand frames end at frame_999.png); the 1001st frame makes them four. */
    @Test
    void frameNamesHaveThreeDigitsUpToAThousandFrames() {
        assertEquals("frame_%03d.png", ImageFiles.framePattern(1));
        assertEquals("frame_%03d.png", ImageFiles.framePattern(1000));
        assertEquals("frame_%04d.png", ImageFiles.framePattern(1001));
        Path out = dir.resolve("none");
        assertEquals("no frames to write to " + out, assertThrows(IllegalArgumentException.class, () -> ImageFiles.writePngFrames(out, List.of())).getMessage());
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
