package dev.puppetengine.io.image;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Bit-exactness against Pillow's Image.resize(LANCZOS) (fixtures from tests/fixtures/gen_lanczos_fixtures.py). */
class LanczosResizeTest {
    private static final Map<String, int[][]> CASES = Map.of(
            "37x29", new int[][] {{16, 16}, {64, 64}, {37, 7}},
            "300x200", new int[][] {{256, 256}},
            "16x16", new int[][] {{37, 29}, {256, 256}},
            "130x130", new int[][] {{65, 65}, {97, 41}},
            "256x256", new int[][] {{224, 224}});

    @Test
    void matchesPillowByteForByte() throws IOException {
        for (var c : CASES.entrySet()) {
            RgbImage in = ImageFiles.readRgb(Fixtures.path("lanczos/in_" + c.getKey() + ".png"));
            for (int[] size : c.getValue()) {
                String name = "out_" + c.getKey() + "_" + size[0] + "x" + size[1] + ".png";
                RgbImage expected = ImageFiles.readRgb(Fixtures.path("lanczos/" + name));
                assertNull(Fixtures.byteDifference(expected, LanczosResize.resize(in, size[0], size[1])), name);
            }
        }
    }

    @Test
    void sameSizeIsACopy() throws IOException {
        RgbImage in = ImageFiles.readRgb(Fixtures.path("lanczos/in_37x29.png"));
        RgbImage out = LanczosResize.resize(in, 37, 29);
        assertNotSame(in.pixels(), out.pixels());
        assertArrayEquals(in.pixels(), out.pixels());
    }

    @Test
    void rejectsEmptyTarget() {
        for (int[] size : new int[][] {{0, 4}, {4, 0}, {-1, 4}, {4, -1}}) {
            assertEquals("target size must be positive, got " + size[0] + "x" + size[1],
                    assertThrows(IllegalArgumentException.class, () -> LanczosResize.resize(RgbImage.blank(4, 4), size[0], size[1])).getMessage());
        }
        assertEquals(1, LanczosResize.resize(RgbImage.blank(4, 4), 1, 1).width());
    }

    /**
     * A downscale by an odd whole factor puts a tap exactly on the window's centre, where sinc is 0/0 and must be 1 (no
     * fixture has one). 3 to 1: weights sinc(1/3)sinc(1/9), 1, the same, normalised to 0.3092, 0.3816, 0.3092; in 22-bit
     * fixed point 90 in the middle gives 34, and 200, 90, 200 gives 158.
     */
    @Test
    void aTapOnTheWindowCentreWeighsOne() {
        RgbImage row = new RgbImage(3, 1, new byte[] {0, 0, 0, 90, 90, 90, 0, 0, 0});
        assertArrayEquals(new byte[] {34, 34, 34}, LanczosResize.resize(row, 1, 1).pixels());
        RgbImage column = new RgbImage(1, 3, new byte[] {(byte) 200, (byte) 200, (byte) 200, 90, 90, 90, (byte) 200, (byte) 200, (byte) 200});
        assertArrayEquals(new byte[] {(byte) 158, (byte) 158, (byte) 158}, LanczosResize.resize(column, 1, 1).pixels());
    }
}
