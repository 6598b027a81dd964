package dev.puppetengine.io.image;

import org.jcodec.api.FrameGrab;
import org.jcodec.api.JCodecException;
import org.jcodec.common.DemuxerTrackMeta;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.scale.ColorUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Mp4FilesTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsFrameCountSizeRateAndContent() throws IOException, JCodecException {
        // 40x30 is not a multiple of the 16-pixel macroblock, so the decoder must crop the padding away.
        List<RgbImage> frames = new ArrayList<>();
        for (int i = 0; i < 12; i++) frames.add(gradient(40, 30, i * 8));
        Path file = dir.resolve("clip.mp4");
        Mp4Files.write(file, frames, 8);

        try (FileChannelWrapper in = NIOUtils.readableChannel(file.toFile())) {
            FrameGrab grab = FrameGrab.createFrameGrab(in);
            DemuxerTrackMeta meta = grab.getVideoTrack().getMeta();
            assertEquals(12, meta.getTotalFrames());
            assertEquals(12 / 8.0, meta.getTotalDuration(), 1e-6);
            int n = 0;
            for (Picture p; (p = grab.getNativeFrame()) != null; n++) {
                RgbImage back = toRgb(p);
                assertEquals(40, back.width());
                assertEquals(30, back.height());
                double meanError = meanAbsDiff(frames.get(n), back);
                assertTrue(meanError < 4, "frame " + n + " mean |diff| " + meanError);
            }
            assertEquals(12, n);
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    /** The header's creation and modification times are 0, not the clock's: the same frames give the same bytes on every run. */
    @Test
    void theHeaderCarriesNoClockTime() throws IOException {
        Path file = dir.resolve("t.mp4");
        Mp4Files.write(file, List.of(gradient(16, 16, 0), gradient(16, 16, 8)), 10);
        byte[] b = Files.readAllBytes(file);
        int boxes = 0;
        for (String box : new String[]{"mvhd", "tkhd", "mdhd"}) {
            for (int at = 4; (at = indexOf(b, box, at)) >= 0; at += 4, boxes++) {
                int times = at + 4 + 4, width = b[at + 4] == 1 ? 8 : 4;   // after the type, version and flags
                for (int i = times; i < times + 2 * width; i++) assertEquals(0, b[i], box + " time byte " + (i - times));
            }
        }
        assertEquals(3, boxes, "one movie, one track, one media header");
    }

    private static int indexOf(byte[] b, String type, int from) {
        byte[] t = type.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = from; i + 4 <= b.length; i++)
            if (b[i] == t[0] && b[i + 1] == t[1] && b[i + 2] == t[2] && b[i + 3] == t[3]) return i;
        return -1;
    }

    @Test
    void oddSizeIsRejectedBeforeWriting() {
        Path file = dir.resolve("odd.mp4");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mp4Files.write(file, List.of(RgbImage.blank(15, 10)), 10));
        assertTrue(e.getMessage().contains("even"), e.getMessage());
        String tall = assertThrows(IllegalArgumentException.class, () -> Mp4Files.write(file, List.of(RgbImage.blank(16, 9)), 10)).getMessage();
        assertTrue(tall.contains("needs even frame sides, got 16x9"), tall);
        String none = assertThrows(IllegalArgumentException.class, () -> Mp4Files.write(file, List.of(), 10)).getMessage();
        assertTrue(none.startsWith("no frames to write"), none);
        for (int fps : new int[] {0, -1}) {
            String rate = assertThrows(IllegalArgumentException.class, () -> Mp4Files.write(file, List.of(RgbImage.blank(16, 16)), fps)).getMessage();
            assertEquals("fps must be positive, got " + fps, rate);
        }
        // a later frame of another height (the width alike is failedEncodeLeavesThePreviousFileAndNoTemporary's)
        String size = assertThrows(IllegalArgumentException.class,
                () -> Mp4Files.write(file, List.of(RgbImage.blank(16, 16), RgbImage.blank(16, 18)), 10)).getMessage();
        assertEquals("frame 1 is 16x18, frame 0 is 16x16", size);
        assertTrue(Files.notExists(file));
    }

    @Test
    void failedEncodeLeavesThePreviousFileAndNoTemporary() throws IOException {
        Path file = dir.resolve("keep.mp4");
        Files.writeString(file, "previous content");
        List<RgbImage> mixed = List.of(RgbImage.blank(16, 16), RgbImage.blank(16, 16), RgbImage.blank(32, 16));
        assertThrows(IllegalArgumentException.class, () -> Mp4Files.write(file, mixed, 10));
        assertEquals("previous content", Files.readString(file));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    private static RgbImage gradient(int w, int h, int shift) {
        RgbImage img = RgbImage.blank(w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = (y * w + x) * 3;
                img.pixels()[p] = (byte) (x * 4 + shift);
                img.pixels()[p + 1] = (byte) (y * 8);
                img.pixels()[p + 2] = (byte) 128;
            }
        }
        return img;
    }

    private static RgbImage toRgb(Picture decoded) {
        Picture rgb = Picture.create(decoded.getWidth(), decoded.getHeight(), ColorSpace.RGB);
        ColorUtil.getTransform(decoded.getColor(), ColorSpace.RGB).transform(decoded, rgb);
        int w = decoded.getCroppedWidth(), h = decoded.getCroppedHeight();
        byte[] out = new byte[w * h * 3];
        byte[] src = rgb.getPlaneData(0);
        for (int y = 0; y < h; y++) {
            for (int i = 0; i < w * 3; i++) out[y * w * 3 + i] = (byte) (src[y * decoded.getWidth() * 3 + i] + 128);
        }
        return new RgbImage(w, h, out);
    }

    private static double meanAbsDiff(RgbImage a, RgbImage b) {
        assertArrayEquals(new int[] {a.width(), a.height()}, new int[] {b.width(), b.height()});
        long sum = 0;
        for (int i = 0; i < a.pixels().length; i++) sum += Math.abs((a.pixels()[i] & 0xff) - (b.pixels()[i] & 0xff));
        return (double) sum / a.pixels().length;
    }
}
