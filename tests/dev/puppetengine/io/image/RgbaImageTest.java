package dev.puppetengine.io.image;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RgbaImageTest {
    @Test
    void compositeKnownValues() {
        // (r, g, b, a) -> expected, rgb*a/255 + 255*(1 - a/255) in float32, truncated (checked with numpy).
        int[][] cases = {
                {0, 0, 0, 0, 255, 255, 255},        // fully transparent -> white
                {10, 20, 30, 255, 10, 20, 30},      // opaque -> unchanged
                {0, 0, 0, 128, 126, 126, 126},      // exactly 127, but float32 gives 126.99999
                {100, 200, 255, 128, 177, 227, 255},// 50.196+127.0, 100.392+127.0, 128+127
                {255, 0, 51, 51, 255, 204, 214},    // 204 + 51, 0 + 204, 10.2 + 204
        };
        for (int[] c : cases) {
            RgbImage out = new RgbaImage(1, 1, new byte[] {(byte) c[0], (byte) c[1], (byte) c[2], (byte) c[3]}).compositeOntoWhite();
            for (int ch = 0; ch < 3; ch++) assertEquals(c[4 + ch], out.get(0, 0, ch), "rgba " + c[0] + "," + c[1] + "," + c[2] + "," + c[3]);
        }
    }

    @Test
    void compositeMatchesFloat32NumpyForEveryValueAndAlpha() {
        // table[a * 256 + v] from numpy float32 (tests/fixtures/gen_clip_fixtures.py); 405 entries differ from exact arithmetic.
        byte[] table = Fixtures.gunzip("composite/table.u8.gz");
        byte[] rgba = new byte[256 * 256 * 4];
        for (int a = 0; a < 256; a++) {
            for (int v = 0; v < 256; v++) {
                int p = (a * 256 + v) * 4;
                rgba[p] = rgba[p + 1] = rgba[p + 2] = (byte) v;
                rgba[p + 3] = (byte) a;
            }
        }
        RgbImage out = new RgbaImage(256, 256, rgba).compositeOntoWhite();
        for (int i = 0; i < table.length; i++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(table[i] & 0xff, out.pixels()[i * 3 + c] & 0xff, "value " + i % 256 + " alpha " + i / 256);
            }
        }
    }
}
