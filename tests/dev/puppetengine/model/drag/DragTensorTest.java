package dev.puppetengine.model.drag;

import dev.puppetengine.pipeline.DragPath;
import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DragTensorTest {
    @Test
    void layoutIsFramesBySlotsByStartAndTarget() {
        int frames = 3;
        double[] a = {8, 16, 12, 16, 16, 20};   // pixels in a 32 x 64 image
        double[] b = {1, 1, 1, 1, 1, 1};
        float[] t = DragTensor.encodePixels(List.of(a, b), frames, 32, 64);
        assertEquals(frames * 5 * 4, t.length);
        for (int f = 0; f < frames; f++) {
            int o = f * 20;
            assertEquals(8 / 32f, t[o]);
            assertEquals(16 / 64f, t[o + 1]);
            assertEquals((float) (a[2 * f] / 32), t[o + 2]);
            assertEquals((float) (a[2 * f + 1] / 64), t[o + 3]);
            assertEquals(1 / 32f, t[o + 4]);
            for (int i = 8; i < 20; i++) assertEquals(0f, t[o + i], "absent slots are zero");
        }
        assertEquals(t[0], t[2], "frame 0 target equals start");
        assertEquals(t[1], t[3]);
    }

    @Test
    void rejectsWhatTheFormatCannotHold() {
        double[] ok = {4, 4, 5, 5};
        String tooMany = assertThrows(IllegalArgumentException.class,
                () -> DragTensor.encodePixels(Collections.nCopies(6, ok), 2, 32, 32)).getMessage();
        assertTrue(tooMany.contains("6 drags"), tooMany);
        String outside = assertThrows(IllegalArgumentException.class,
                () -> DragTensor.encodePixels(List.of(new double[] {4, 4, 40, 5}), 2, 32, 32)).getMessage();
        assertTrue(outside.contains("drag 0") && outside.contains("x = 40.0"), outside);
        assertThrows(IllegalArgumentException.class, () -> DragTensor.encodePixels(List.of(new double[] {0, 0, 3, 3}), 2, 32, 32));
        assertThrows(IllegalArgumentException.class, () -> DragTensor.encodePixels(List.of(ok), 3, 32, 32));
        String frames = assertThrows(IllegalArgumentException.class, () -> DragTensor.encode(List.of(new double[]{0.5, 0.5, 0.5, 0.5}), 3)).getMessage();
        assertEquals("drag 0 has 2 frames, expected 3", frames);
        String y = assertThrows(IllegalArgumentException.class,
                () -> DragTensor.encode(List.of(new double[]{0.5, 0.5, 0.5, 0.5}, new double[]{0.5, 0.5, 0.5, 1.5}), 2)).getMessage();
        assertTrue(y.startsWith("drag 1: frame 1's y = 1.5 lies outside the image"), y);
        String x = assertThrows(IllegalArgumentException.class, () -> DragTensor.encode(List.of(new double[]{0.5, 0.5, -0.25, 0.5}), 2)).getMessage();
        assertTrue(x.startsWith("drag 0: frame 1's x = -0.25 lies outside"), x);
    }

    /** Five drags fill the tensor; the image's edges, 0 and 1 (0 and the width or height in pixels), are inside it. */
    @Test
    void takesFiveDragsAndPointsOnTheEdges() {
        double[] edge = {0, 0.5, 1, 0, 0.5, 1};                    // starts on the left edge, then the top, then the bottom right
        float[] t = DragTensor.encode(Collections.nCopies(DragTensor.SLOTS, edge), 3);
        for (int k = 0; k < DragTensor.SLOTS; k++) {
            int o = (2 * DragTensor.SLOTS + k) * 4;                 // frame 2
            assertEquals(0f, t[o]);
            assertEquals(0.5f, t[o + 1]);
            assertEquals(0.5f, t[o + 2]);
            assertEquals(1f, t[o + 3]);
        }
        float[] px = DragTensor.encodePixels(List.of(new double[]{0, 16, 32, 0, 32, 64}), 3, 32, 64);
        assertEquals(0f, px[0]);
        assertEquals(0.25f, px[1]);
        assertEquals(1f, px[DragTensor.SLOTS * 4 + 2], "x = width");
        assertEquals(0f, px[DragTensor.SLOTS * 4 + 3]);
        assertEquals(1f, px[2 * DragTensor.SLOTS * 4 + 2]);
        assertEquals(1f, px[2 * DragTensor.SLOTS * 4 + 3], "y = height");
    }

    /** A DragPath is a value: its arrays cannot be changed through it, and equal points make equal drags. */
    @Test
    void aDragPathIsAValue() {
        DragPath p = DragPath.line(0.2, 0.2, 0.4, 0.4);
        p.xs()[1] = 0.9;
        assertEquals(0.4, p.xs()[1]);
        assertEquals(DragPath.line(0.2, 0.2, 0.4, 0.4), p);
        assertEquals(DragPath.line(0.2, 0.2, 0.4, 0.4).hashCode(), p.hashCode());
        assertNotEquals(DragPath.line(0.2, 0.2, 0.4, 0.5), p);
    }

    /** Sampling's drags go through the same encoder: a line from the corner is refused, not silently dropped as an empty slot. */
    @Test
    void samplingDragsShareTheEncoder() {
        float[] t = DragPath.tensor(List.of(DragPath.line(0.25, 0.5, 0.75, 0.5)), 3);
        assertEquals(3 * DragTensor.SLOTS * 4, t.length);
        assertEquals(0.5f, t[DragTensor.SLOTS * 4 + 2], "frame 1 of 3 is half way");
        String corner = assertThrows(IllegalArgumentException.class,
                () -> DragPath.tensor(List.of(DragPath.line(0, 0, 0.5, 0.5)), 3)).getMessage();
        assertTrue(corner.contains("drag 0 starts at the origin"), corner);
        assertEquals(DragTensor.encode(List.of(new double[]{0.125, 0.25, 0.5, 0.25}), 2)[2],
                DragTensor.encodePixels(List.of(new double[]{4, 8, 16, 8}), 2, 32, 32)[2]);
    }
}
