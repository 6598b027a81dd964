package dev.puppetengine.pipeline;

import dev.puppetengine.model.drag.DragTensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DragPath's checks, its lines and trajectories in the drag tensor, and the end points VideoOutput draws. */
class DragPathTest {
    @Test
    void pointsOnTheImagesEdgesAreInsideAndOthersAreRefused() {
        DragPath edges = new DragPath(new double[]{0, 1, 0.5}, new double[]{1, 0, 0.5});   // both ends of [0, 1], x and y
        assertArrayEquals(new double[]{0, 1, 0.5}, edges.xs());
        assertArrayEquals(new double[]{1, 0, 0.5}, edges.ys());
        for (double bad : new double[]{-1e-9, 1 + 1e-9, Double.NaN}) {
            String x = assertThrows(IllegalArgumentException.class, () -> DragPath.line(0.5, 0.5, bad, 0.5)).getMessage();
            assertTrue(x.startsWith("drag point 1 (") && x.contains("is outside the image"), x);
            String y = assertThrows(IllegalArgumentException.class, () -> DragPath.line(0.5, bad, 0.5, 0.5)).getMessage();
            assertTrue(y.startsWith("drag point 0 (0.5000, "), y);
        }
        assertThrows(IllegalArgumentException.class, () -> new DragPath(new double[]{0.5}, new double[]{0.5}), "one point is no drag");
        assertThrows(IllegalArgumentException.class, () -> new DragPath(new double[]{0.5, 0.6}, new double[]{0.5, 0.6, 0.7}));
    }

    /** A line's frame f is start + (end - start) f / (F - 1), in x and in y; one frame holds the start. */
    @Test
    void aLineIsInterpolatedOverTheFrames() {
        DragPath line = DragPath.line(0.25, 0.75, 0.75, 0.25);
        assertFalse(line.isTrajectory());
        float[] t = DragPath.tensor(List.of(line), 5);
        for (int f = 0; f < 5; f++) {
            int o = f * DragTensor.SLOTS * 4;
            assertEquals(0.25f, t[o], "start x, frame " + f);
            assertEquals(0.75f, t[o + 1], "start y, frame " + f);
            assertEquals(0.25f + 0.125f * f, t[o + 2], "x, frame " + f);
            assertEquals(0.75f - 0.125f * f, t[o + 3], "y, frame " + f);
        }
        float[] one = DragPath.tensor(List.of(line), 1);
        assertArrayEquals(new float[]{0.25f, 0.75f, 0.25f, 0.75f}, Arrays.copyOf(one, 4), "one frame: the target is the start");
    }

    /** A trajectory (more than two points) gives frame f its own point, not a line from its first to its last. */
    @Test
    void aTrajectoryGivesEachFrameItsPoint() {
        DragPath bent = new DragPath(new double[]{0.25, 0.75, 0.5}, new double[]{0.5, 0.5, 0.125});
        assertTrue(bent.isTrajectory());
        float[] t = DragPath.tensor(List.of(DragPath.line(0.5, 0.5, 0.5, 0.75), bent), 3);
        for (int f = 0; f < 3; f++) {
            int o = (f * DragTensor.SLOTS + 1) * 4;                  // slot 1
            assertEquals(0.25f, t[o]);
            assertEquals(0.5f, t[o + 1]);
            assertEquals((float) bent.xs()[f], t[o + 2], "x, frame " + f);
            assertEquals((float) bent.ys()[f], t[o + 3], "y, frame " + f);
        }
        for (int frames : new int[]{2, 4}) {
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> DragPath.tensor(List.of(DragPath.line(0.5, 0.5, 0.5, 0.75), bent), frames)).getMessage();
            assertEquals("drag 1 has 3 trajectory points, expected one per frame (" + frames + ")", msg);
        }
    }

    /** What VideoOutput draws: the first and the last point, in pixels of a side x side frame. */
    @Test
    void endpointsInPixelsAreTheFirstAndTheLastPoint() {
        assertArrayEquals(new double[]{64, 192, 32, 128}, new DragPath(new double[]{0.25, 0.5, 0.125}, new double[]{0.75, 1, 0.5}).endpointsPixels(256));
        assertArrayEquals(new double[]{16, 8, 32, 0}, DragPath.line(0.5, 0.25, 1, 0).endpointsPixels(32));
    }

    @Test
    void equalityHashAndTextFollowThePoints() {
        DragPath a = DragPath.line(0.2, 0.4, 0.6, 0.8), swapped = DragPath.line(0.4, 0.2, 0.8, 0.6);
        assertEquals(DragPath.line(0.2, 0.4, 0.6, 0.8), a);
        assertNotEquals(swapped, a, "x and y are not interchangeable");
        assertNotEquals(DragPath.line(0.2, 0.4, 0.6, 0.9), a);
        assertNotEquals(a.hashCode(), swapped.hashCode());
        assertFalse(a.equals("DragPath[xs=[0.2, 0.6], ys=[0.4, 0.8]]"));
        assertEquals("DragPath[xs=[0.2, 0.6], ys=[0.4, 0.8]]", a.toString());
        a.ys()[0] = 0.9;
        assertEquals(0.4, a.ys()[0], "ys() is a copy");
    }
}
