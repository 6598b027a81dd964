package dev.puppetengine.io.image;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RgbImageTest {
    @Test
    void sizeAndPixelCountAreChecked() {
        assertEquals("image size must be positive, got 0x1", assertThrows(IllegalArgumentException.class, () -> new RgbImage(0, 1, new byte[0])).getMessage());
        assertEquals("image size must be positive, got 1x0", assertThrows(IllegalArgumentException.class, () -> new RgbImage(1, 0, new byte[0])).getMessage());
        assertEquals("a 2x3 RGB image needs 18 bytes, got 17", assertThrows(IllegalArgumentException.class, () -> new RgbImage(2, 3, new byte[17])).getMessage());
        assertEquals(1, new RgbImage(1, 1, new byte[3]).width());
    }

    /** A crop may touch every edge of the image; one pixel past any edge, or an empty one, is refused. */
    @Test
    void cropsReachTheEdgesAndNoFurther() {
        RgbImage img = ImageFilesTest.pattern(5, 4);
        assertArrayEquals(img.pixels(), img.crop(0, 0, 5, 4).pixels());
        RgbImage corner = img.crop(3, 2, 2, 2);   // the bottom-right 2x2
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 2; x++) {
                for (int c = 0; c < 3; c++) assertEquals(img.get(3 + x, 2 + y, c), corner.get(x, y, c), x + "," + y + "," + c);
            }
        }
        int[][] refused = {{-1, 0, 2, 2}, {0, -1, 2, 2}, {0, 0, 0, 2}, {0, 0, 2, 0}, {4, 0, 2, 2}, {0, 3, 2, 2}, {0, 0, 6, 4}, {0, 0, 5, 5}};
        for (int[] r : refused) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> img.crop(r[0], r[1], r[2], r[3]), Arrays.toString(r));
            assertEquals("crop " + r[2] + "x" + r[3] + " at (" + r[0] + "," + r[1] + ") is outside the 5x4 image", e.getMessage());
        }
    }
}
