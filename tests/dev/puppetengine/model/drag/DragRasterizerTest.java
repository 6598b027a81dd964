package dev.puppetengine.model.drag;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Spec 11.1: DragAMove 00000, drag 0, frame 5, at r = 32, 16, 8. */
class DragRasterizerTest {
    // start (0.63671875, 0.953125), target at frame 5 (0.563824, 0.867723), final (0.447193, 0.731080)
    private static final float SX = 0.63671875f, SY = 0.953125f, EX = 0.447193f, EY = 0.731080f;

    private static float[] drags() {
        float[] d = new float[14 * 5 * 4];
        for (int f = 0; f < 14; f++) {
            int o = f * 20;
            d[o] = SX; d[o + 1] = SY;
            d[o + 2] = SX + (EX - SX) * f / 13f;
            d[o + 3] = SY + (EY - SY) * f / 13f;
        }
        return d;
    }

    private static void check(int r, int[] start, double[] so, int[] tgt, double[] to, int[] fin, double[] fo) {
        float[] img = DragRasterizer.rasterize(drags(), 1, 14, 5, r);
        int ch = 30, frame = 5;
        int base = frame * r * r * ch;
        assertEquals(so[0], img[base + (start[1] * r + start[0]) * ch], 1e-5);
        assertEquals(so[1], img[base + (start[1] * r + start[0]) * ch + 1], 1e-5);
        assertEquals(to[0], img[base + (tgt[1] * r + tgt[0]) * ch + 2], 1e-5);
        assertEquals(to[1], img[base + (tgt[1] * r + tgt[0]) * ch + 3], 1e-5);
        assertEquals(fo[0], img[base + (fin[1] * r + fin[0]) * ch + 4], 1e-5);
        assertEquals(fo[1], img[base + (fin[1] * r + fin[0]) * ch + 5], 1e-5);
        int written = 0;
        for (int p = 0; p < r * r; p++)
            for (int c = 0; c < ch; c++) {
                float v = img[base + p * ch + c];
                if (c >= 6) assertEquals(-1f, v, "absent drags stay -1");
                if (v != -1f) written++;
            }
        assertEquals(6, written, "exactly six values written in frame 5 at r=" + r);
    }

    @Test
    void workedExampleOfSpec11_1() {
        check(32, new int[]{20, 30}, new double[]{0.375, 0.5}, new int[]{18, 27}, new double[]{0.042376, 0.767141},
                new int[]{14, 23}, new double[]{0.310179, 0.394566});
        check(16, new int[]{10, 15}, new double[]{0.1875, 0.25}, new int[]{9, 13}, new double[]{0.021188, 0.883571},
                new int[]{7, 11}, new double[]{0.155089, 0.697283});
        check(8, new int[]{5, 7}, new double[]{0.09375, 0.625}, new int[]{4, 6}, new double[]{0.510594, 0.941785},
                new int[]{3, 5}, new double[]{0.577545, 0.848641});
    }

    @Test
    void roundHalfEvenAndClamping() {
        assertEquals(2, DragRasterizer.cell(2.5f / 8, 8));      // 2.5 - 0.5 = 2.0 exactly
        assertEquals(2, DragRasterizer.cell(3.0f / 8, 8));      // 2.5 rounds to even 2
        assertEquals(4, DragRasterizer.cell(5.0f / 8, 8));      // 4.5 rounds to even 4
        assertEquals(0, DragRasterizer.cell(0f, 8));            // -0.5 -> -0 -> 0
        assertEquals(7, DragRasterizer.cell(1f, 8));            // 7.5 -> 8 -> clamped 7
    }

    @Test
    void sinCosTableLayout() {
        double[] t = SinCosTable.table(4, 8);                    // 2 frequencies per quarter: w = 1, 1/100
        int row = 2, col = 3, o = (row * 4 + col) * 8;
        assertEquals(Math.sin(3), t[o], 1e-15);
        assertEquals(Math.sin(0.03), t[o + 1], 1e-15);
        assertEquals(Math.cos(3), t[o + 2], 1e-15);
        assertEquals(Math.sin(2), t[o + 4], 1e-15);
        assertEquals(Math.cos(0.02), t[o + 7], 1e-15);
        // every row: [sin(j w), cos(j w), sin(i w), cos(i w)] for row i, column j
        assertEquals(4 * 4 * 8, t.length);
        double[] w = {1, 0.01};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    int at = (i * 4 + j) * 8 + k;
                    assertEquals(Math.sin(j * w[k]), t[at], 1e-15, "sin(j w) at " + i + "," + j + "," + k);
                    assertEquals(Math.cos(j * w[k]), t[at + 2], 1e-15, "cos(j w) at " + i + "," + j + "," + k);
                    assertEquals(Math.sin(i * w[k]), t[at + 4], 1e-15, "sin(i w) at " + i + "," + j + "," + k);
                    assertEquals(Math.cos(i * w[k]), t[at + 6], 1e-15, "cos(i w) at " + i + "," + j + "," + k);
                }
        String msg = assertThrows(IllegalArgumentException.class, () -> SinCosTable.table(4, 6)).getMessage();
        assertEquals("positional dim 6 is not a multiple of 4", msg);
    }

    /** A batch of videos: each video's raster and presence are what it gives alone, its last frame its own. */
    @Test
    void aBatchRastersEachVideoAsAlone() {
        float[] first = drags(), second = drags();
        for (int f = 0; f < 14; f++) {                           // video 1: drag 0 reversed, and in slot 2
            int o = f * 20;
            second[o + 8] = EX; second[o + 9] = EY;
            second[o + 10] = EX + (SX - EX) * f / 13f;
            second[o + 11] = EY + (SY - EY) * f / 13f;
            Arrays.fill(second, o, o + 4, 0f);
        }
        float[] both = new float[2 * first.length];
        System.arraycopy(first, 0, both, 0, first.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        int r = 8;
        float[] a = DragRasterizer.rasterize(first, 1, 14, 5, r), b = DragRasterizer.rasterize(second, 1, 14, 5, r);
        float[] ab = DragRasterizer.rasterize(both, 2, 14, 5, r);
        assertEquals(a.length + b.length, ab.length);
        for (int i = 0; i < a.length; i++) assertEquals(a[i], ab[i], "video 0, value " + i);
        for (int i = 0; i < b.length; i++) assertEquals(b[i], ab[a.length + i], "video 1, value " + i);
        // video 1's slot 2 carries its own last target (drag 0's start) in channels 16-17 of every frame, here frame 0
        int cx = DragRasterizer.cell(SX, r), cy = DragRasterizer.cell(SY, r), px = ((14 * r + cy) * r + cx) * 30;
        assertEquals(SX * r - cx, ab[px + 6 * 2 + 4], 1e-6);
        assertEquals(SY * r - cy, ab[px + 6 * 2 + 5], 1e-6);
        boolean[] present = DragRasterizer.present(both, 2, 14, 5);
        assertArrayEquals(new boolean[]{true, false, false, false, false, false, false, true, false, false}, present);
    }

    /** Any one of a slot's four numbers being non-zero in some frame makes it present. */
    @Test
    void aSlotWithAnyNonZeroNumberIsPresent() {
        for (int which = 0; which < 4; which++) {
            float[] d = new float[2 * 5 * 4];                     // (B=1, F=2, K=5, 4), all absent
            d[(5 + 3) * 4 + which] = 0.5f;                         // frame 1, slot 3
            boolean[] present = DragRasterizer.present(d, 1, 2, 5);
            assertArrayEquals(new boolean[]{false, false, false, true, false}, present, "number " + which);
        }
    }

    /**
     * Spec 3.3: a value is written only where the slot is present in that frame (any of its four numbers non-zero), and
     * channels 4-5 hold the last frame's target in every frame; 3.5's token mask looks at all frames.
     */
    @Test
    void aSlotAbsentInOneFrameWritesNothingInThatFrame() {
        float[] d = drags();
        Arrays.fill(d, 3 * 20, 3 * 20 + 4, 0f);                    // drag 0 absent in frame 3 only
        int r = 8, ch = 30;
        float[] img = DragRasterizer.rasterize(d, 1, 14, 5, r);
        for (int i = 3 * r * r * ch; i < 4 * r * r * ch; i++) assertEquals(-1f, img[i], "frame 3 is all -1");
        // frame 4 still carries the final target (frame 13's (EX, EY)) at its cell, offsets u r - cell
        int cx = DragRasterizer.cell(EX, r), cy = DragRasterizer.cell(EY, r);
        assertEquals(3, cx);
        assertEquals(5, cy);
        int px = (4 * r * r + cy * r + cx) * ch;
        assertEquals(EX * r - 3, img[px + 4], 1e-6);
        assertEquals(EY * r - 5, img[px + 5], 1e-6);
        boolean[] present = DragRasterizer.present(d, 1, 14, 5);
        assertEquals(true, present[0], "present in other frames: its tokens stay");
        for (int k = 1; k < 5; k++) assertEquals(false, present[k], "slot " + k);
    }
}
