package dev.puppetengine.io.image;

import dev.puppetengine.testing.ImageBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExifOrientationTest {
    @TempDir
    Path dir;

    /** 5x3, every pixel distinct (and not 0: JPEG is lossy, so its files are only read for their tag). */
    private static RgbImage numbered() {
        byte[] px = new byte[5 * 3 * 3];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i + 1);
        return new RgbImage(5, 3, px);
    }

    @Test
    void theTagIsReadInBothByteOrdersWithAndWithoutTheJpegPrefix() {
        for (int o = 1; o <= 8; o++)
            for (ByteOrder order : new ByteOrder[]{ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                byte[] tiff = ImageBytes.tiff(o, order);
                assertEquals(o, ExifOrientation.fromExif(tiff), o + " " + order);
                byte[] app1 = new byte[6 + tiff.length];
                System.arraycopy("Exif\0\0".getBytes(StandardCharsets.US_ASCII), 0, app1, 0, 6);
                System.arraycopy(tiff, 0, app1, 6, tiff.length);
                assertEquals(o, ExifOrientation.fromExif(app1), o + " " + order + " after Exif\\0\\0");
            }
    }

    /** Damaged or foreign blocks are no orientation, never an exception: every truncation, and values off the tag's range. */
    @Test
    void damagedBlocksReadAsStored() {
        byte[] tiff = ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN);
        for (int n = 0; n < 8 + 2 + 2 * 12; n++)   // short of the orientation entry's end (the next-IFD offset after it is not needed)
            assertEquals(1, ExifOrientation.fromExif(Arrays.copyOf(tiff, n)), "cut at " + n);
        assertEquals(6, ExifOrientation.fromExif(Arrays.copyOf(tiff, 8 + 2 + 2 * 12)));
        assertEquals(1, ExifOrientation.fromExif(ImageBytes.tiff(0, ByteOrder.BIG_ENDIAN)));
        assertEquals(1, ExifOrientation.fromExif(ImageBytes.tiff(9, ByteOrder.BIG_ENDIAN)));
        byte[] offsetPastEnd = tiff.clone();
        offsetPastEnd[4] = 0x7f;   // IFD offset 0x7f000008
        assertEquals(1, ExifOrientation.fromExif(offsetPastEnd));
        byte[] notTiff = tiff.clone();
        notTiff[3] = 43;
        assertEquals(1, ExifOrientation.fromExif(notTiff));
    }

    @Test
    void filesGiveTheirTag() throws IOException {
        Path jpg = dir.resolve("photo.jpg"), png = dir.resolve("shot.png"), plain = dir.resolve("plain.png"), junk = dir.resolve("junk.jpg");
        Files.write(jpg, ImageBytes.jpeg(numbered(), ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN)));
        Files.write(png, ImageBytes.png(numbered(), ImageBytes.tiff(8, ByteOrder.LITTLE_ENDIAN)));
        ImageFiles.writePng(plain, numbered());
        Files.write(junk, ImageBytes.jpeg(numbered(), new byte[]{1, 2, 3}));
        assertEquals(6, ExifOrientation.of(jpg));
        assertEquals(8, ExifOrientation.of(png));
        assertEquals(1, ExifOrientation.of(plain));
        assertEquals(1, ExifOrientation.of(junk));
        assertArrayEquals(numbered().pixels(), ImageFiles.readRgb(png).pixels(), "the chunk must not change the pixels read");
        assertEquals(5, ImageFiles.readRgb(jpg).width(), "an EXIF segment before the JFIF one, which the JDK's metadata refuses, decodes");
        for (int cut = 0; cut < 60; cut++) {   // a file cut anywhere in its headers has no orientation, and no exception
            Files.write(junk, Arrays.copyOf(Files.readAllBytes(jpg), cut));
            assertEquals(cut < 2 + 4 + 6 + 8 + 2 + 2 * 12 ? 1 : 6, ExifOrientation.of(junk), "JPEG cut at " + cut);
            Files.write(junk, Arrays.copyOf(Files.readAllBytes(png), cut));
            assertEquals(cut < 8 + 25 + 8 + 8 + 2 + 2 * 12 ? 1 : 8, ExifOrientation.of(junk), "PNG cut at " + cut);
        }
    }

    /** Bytes changed at random in the headers (lengths, markers, offsets) give some orientation 1 to 8, never an exception. */
    @Test
    void corruptHeadersNeverThrow() throws IOException {
        Random rnd = new Random(5);
        Path f = dir.resolve("fuzz");
        for (byte[] good : new byte[][]{ImageBytes.jpeg(numbered(), ImageBytes.tiff(6, ByteOrder.LITTLE_ENDIAN)),
                ImageBytes.png(numbered(), ImageBytes.tiff(3, ByteOrder.BIG_ENDIAN))})
            for (int i = 0; i < 500; i++) {
                byte[] bad = good.clone();
                for (int k = 1 + rnd.nextInt(3); k > 0; k--) bad[rnd.nextInt(90)] = (byte) rnd.nextInt(256);
                Files.write(f, bad);
                int o = ExifOrientation.of(f);
                assertTrue(o >= 1 && o <= 8, "orientation " + o);
            }
    }

    /**
     * Each orientation against the EXIF definition in its own words: which edge of the view the stored 0th row lies
     * along (top, bottom, left, right) and which the 0th column (left, right, top, bottom).
     */
    @Test
    void applyShowsTheStoredRowsAndColumnsWhereTheTagSays() {
        String[][] edges = {{"top", "left"}, {"top", "right"}, {"bottom", "right"}, {"bottom", "left"},
                {"left", "top"}, {"right", "top"}, {"right", "bottom"}, {"left", "bottom"}};
        RgbImage in = numbered();
        int w = in.width(), h = in.height();
        for (int o = 1; o <= 8; o++) {
            RgbImage out = ExifOrientation.apply(in, o);
            String row0 = edges[o - 1][0], col0 = edges[o - 1][1];
            boolean sideways = row0.equals("left") || row0.equals("right");
            assertEquals(sideways ? h : w, out.width(), "orientation " + o);
            assertEquals(sideways ? w : h, out.height(), "orientation " + o);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int vx, vy;   // where stored (x, y) shows
                    if (sideways) {
                        vx = row0.equals("left") ? y : h - 1 - y;
                        vy = col0.equals("top") ? x : w - 1 - x;
                    } else {
                        vy = row0.equals("top") ? y : h - 1 - y;
                        vx = col0.equals("left") ? x : w - 1 - x;
                    }
                    for (int c = 0; c < 3; c++) assertEquals(in.get(x, y, c), out.get(vx, vy, c), "orientation " + o + " pixel " + x + "," + y);
                }
        }
        assertThrows(IllegalArgumentException.class, () -> ExifOrientation.apply(in, 0));
        assertThrows(IllegalArgumentException.class, () -> ExifOrientation.describe(9));
    }

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) out[i] = (byte) b[i];
        return out;
    }

    private static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    /** An APP1 "Exif" segment holding orientation 6, its FF marker prefix included. */
    private static byte[] app1() {
        byte[] payload = cat("Exif\0\0".getBytes(StandardCharsets.ISO_8859_1), ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN));
        return cat(bytes(0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff), payload);
    }

    private int jpegTag(byte[]... afterSoi) throws IOException {
        Path f = dir.resolve("segments.jpg");
        Files.write(f, cat(bytes(0xff, 0xd8), cat(afterSoi)));
        return ExifOrientation.of(f);
    }

    /**
     * The JPEG segment walk: fill bytes and payload-less markers (01, RST0-7, SOI) are stepped over, a segment's length
     * counts its own two bytes (an empty one is 2), other segments are skipped whole; a segment after the scan or the
     * end, a byte that is not a marker, or a length under 2 ends the search with no orientation.
     */
    @Test
    void theJpegSegmentWalk() throws IOException {
        assertEquals(6, jpegTag(app1()));
        assertEquals(6, jpegTag(bytes(0xff, 0xff, 0xff), Arrays.copyOfRange(app1(), 1, app1().length)), "fill bytes before the marker");
        assertEquals(6, jpegTag(bytes(0xff, 0x01, 0xff, 0xd0, 0xff, 0xd7, 0xff, 0xd8), app1()), "markers without a payload");
        assertEquals(6, jpegTag(bytes(0xff, 0xe0, 0x00, 0x02), app1()), "an empty segment");
        assertEquals(6, jpegTag(bytes(0xff, 0xe0, 0x00, 0x06, 'J', 'F', 'I', 'F'), app1()), "a JFIF segment first");
        assertEquals(6, jpegTag(bytes(0xff, 0xe1, 0x00, 0x08, 'X', 'M', 'P', 0, 0, 0), app1()), "an APP1 that is not EXIF");
        assertEquals(6, jpegTag(bytes(0xff, 0xcf, 0x00, 0x03, 0xd9), app1()), "0xCF carries a payload");
        assertEquals(1, jpegTag(bytes(0xff, 0xda, 0x00, 0x02), app1()), "after the scan");
        assertEquals(1, jpegTag(bytes(0xff, 0xd9, 0x00, 0x02), app1()), "after the end (followed by what would read as an empty payload)");
        assertEquals(1, jpegTag(bytes(0x00), Arrays.copyOfRange(app1(), 1, app1().length)), "not a marker");
        assertEquals(1, jpegTag(bytes(0xff, 0xe0, 0x00, 0x01), app1()), "a length under 2");
        byte[] onlyPrefix = cat(bytes(0xff, 0xe1, 0x00, 0x08), "Exif\0\0".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(1, jpegTag(onlyPrefix, bytes(0xff, 0xd9)), "an EXIF segment with nothing after its prefix");
    }

    /** A PNG's chunks end at IEND: an eXIf chunk after it is not read. */
    @Test
    void anExifChunkAfterThePngsEndIsNotRead() throws IOException {
        Path plain = dir.resolve("plain.png"), f = dir.resolve("late.png");
        ImageFiles.writePng(plain, numbered());
        byte[] tiff = ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN);
        byte[] chunk = cat(bytes(0, 0, 0, tiff.length), "eXIf".getBytes(StandardCharsets.ISO_8859_1), tiff, bytes(0, 0, 0, 0));
        Files.write(f, cat(Files.readAllBytes(plain), chunk));
        assertEquals(1, ExifOrientation.of(f));
    }

    /** "II" or "MM" and nothing else; the IFD's entry count bounds the search (an orientation entry past it is not one). */
    @Test
    void byteOrderMarksAndTheEntryCount() {
        byte[] tiff = ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN);
        for (int[] mark : new int[][]{{'M', 'I'}, {'I', 'M'}, {'X', 'M'}, {'M', 'X'}}) {
            byte[] t = tiff.clone();
            t[0] = (byte) mark[0];
            t[1] = (byte) mark[1];
            assertEquals(1, ExifOrientation.fromExif(t), (char) mark[0] + "" + (char) mark[1]);
        }
        byte[] oneEntry = tiff.clone();
        oneEntry[9] = 1;                                             // count 1: only the Make entry; orientation lies past it
        assertEquals(1, ExifOrientation.fromExif(oneEntry));
    }

    @Test
    void describeNamesEachOrientation() {
        assertEquals("as stored", ExifOrientation.describe(1));
        assertEquals("turned 90 degrees clockwise", ExifOrientation.describe(6));
        assertEquals("turned 90 degrees counterclockwise", ExifOrientation.describe(8));
        String msg = assertThrows(IllegalArgumentException.class, () -> ExifOrientation.describe(0)).getMessage();
        assertEquals("EXIF orientation must be 1 to 8, got 0", msg);
    }
}
