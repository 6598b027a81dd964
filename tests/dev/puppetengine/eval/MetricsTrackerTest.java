package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleBinaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTrackerTest {
    private static final int SIDE = 64;

    /** Smooth texture: a few sinusoids at unrelated frequencies (no period within the search window). */
    private static double smooth(double x, double y) {
        return 128 + 50 * Math.sin(0.31 * x + 0.17 * y) + 40 * Math.sin(0.13 * x - 0.29 * y + 1) + 25 * Math.sin(0.47 * x + 0.41 * y + 2);
    }

    /** Frames of {@code texture} translated by (vx, vy) pixels per frame: frame f at (x, y) shows texture(x - vx f, y - vy f). */
    private static List<RgbImage> translated(DoubleBinaryOperator texture, double vx, double vy, int frames) {
        List<RgbImage> out = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
            double dx = vx * f, dy = vy * f;
            out.add(MetricsTest.grey(SIDE, SIDE, (x, y) -> (int) Math.round(Math.max(0, Math.min(255, texture.applyAsDouble(x - dx, y - dy))))));
        }
        return out;
    }

    private static DoubleBinaryOperator noise(long seed) {
        int n = 256;
        int[] v = new Random(seed).ints(n * n, 0, 256).toArray();
        return (x, y) -> v[Math.floorMod((int) Math.round(y), n) * n + Math.floorMod((int) Math.round(x), n)];
    }

    private static void assertFollows(double[][] track, double x0, double y0, double vx, double vy, double tol) {
        for (int f = 0; f < track.length; f++) {
            double e = Math.hypot(track[f][0] - (x0 + vx * f), track[f][1] - (y0 + vy * f));
            assertTrue(e <= tol, "frame " + f + ": tracked (" + track[f][0] + ", " + track[f][1] + "), off by " + e + " px");
        }
    }

    @Test
    void recoversAnIntegerTranslationOfNoise() {
        double[][] t = PointTracker.forSide(SIDE).track(translated(noise(7), 2, -1, 8), 30, 33);
        assertFollows(t, 30, 33, 2, -1, 0.5);
    }

    @Test
    void recoversASubPixelTranslationWithinAPixel() {
        double[][] t = PointTracker.forSide(SIDE).track(translated(MetricsTrackerTest::smooth, 1.5, -0.7, 10), 31, 32);
        assertFollows(t, 31, 32, 1.5, -0.7, 1.0);
    }

    /** Total motion (5 px x 7 frames) well beyond the search radius: the search follows the previous match. */
    @Test
    void followsMotionFartherThanTheSearchRadius() {
        PointTracker tr = PointTracker.forSide(SIDE);
        assertTrue(5 * 7 > tr.searchRadius());
        assertFollows(tr.track(translated(noise(9), 5, 0, 8), 12, 30), 12, 30, 5, 0, 0.5);
    }

    /** A point whose patch reaches past the edges (pixels beyond the edge take no part) is followed away from them, from either corner. */
    @Test
    void followsAPointFromTheImageCorners() {
        assertFollows(PointTracker.forSide(SIDE).track(translated(noise(11), -2, -1, 6), 62, 63), 62, 63, -2, -1, 0.5);
        assertFollows(PointTracker.forSide(SIDE).track(translated(noise(12), 2, 1, 6), 2, 2), 2, 2, 2, 1, 0.5);
    }

    /**
     * A point at a corner or edge of content moving inward: candidate centres beyond the frame (all repeated edge
     * pixels) once matched the entering content better than the true motion and took the track to y = -1.
     */
    @Test
    void aPointAtTheCornerStaysOnTheFrameAndIsFollowed() {
        int e = SIDE - 1;
        double[][] cases = {{1, 0, 2, 1}, {0, 1, 1, 2}, {e - 1, e, -2, -1}, {e, e - 1, -1, -2}, {0, 0, 1, 2},
            {e, e, -2, -1}, {e, 0, -1, 2}, {0, e, 2, -2}, {30, 0, 0, 3}, {e, 30, -3, 0}};
        for (double[] c : cases)
            assertFollows(PointTracker.forSide(SIDE).track(translated(noise(12), c[2], c[3], 6), c[0], c[1]), c[0], c[1], c[2], c[3], 0.5);
        // a drag point on the border itself (normalised 1.0 is x = SIDE) is matched from the nearest pixel
        assertFollows(PointTracker.forSide(SIDE).track(translated(noise(12), -3, 1, 6), SIDE, 20), SIDE, 20, -3, 1, 0.5);
    }

    /**
     * Content that leaves the frame is followed to the border, and the track stays inside the frame after that
     * (where it goes then is not meaningful: the point is gone); a match centre is never outside.
     */
    @Test
    void contentLeavingTheFrameKeepsTheTrackInside() {
        int e = SIDE - 1;
        double[][] right = PointTracker.forSide(SIDE).track(translated(noise(14), 3, 0, 6), e - 4, 30);
        double[][] down = PointTracker.forSide(SIDE).track(translated(noise(15), 0, 3, 6), 30, e - 4);
        for (int f = 0; f < right.length; f++) {
            if (e - 4 + 3 * f <= e) {
                assertEquals(e - 4 + 3 * f, right[f][0], 1e-9, "x in frame " + f);
                assertEquals(e - 4 + 3 * f, down[f][1], 1e-9, "y in frame " + f);
            }
            assertTrue(right[f][0] <= e && down[f][1] <= e, "frame " + f + ": (" + right[f][0] + ", " + down[f][1] + ") is off the frame");
        }
    }

    /** Motion of exactly the search radius per frame, on both axes, is still found. */
    @Test
    void findsMotionOfTheWholeSearchRadius() {
        PointTracker tr = PointTracker.forSide(SIDE);
        int r = tr.searchRadius();
        assertFollows(tr.track(translated(noise(13), r, r, 4), 15, 15), 15, 15, r, r, 0.5);
    }

    /** On flat content every displacement matches equally: the nearest (none) wins, so the point stays. */
    @Test
    void flatContentKeepsThePointWhereItIs() {
        assertFollows(PointTracker.forSide(SIDE).track(translated((x, y) -> 90, 0, 0, 4), 20, 40), 20, 40, 0, 0, 0);
    }

    @Test
    void radiiBelowOneAndFramesOfAnotherSizeAreRefused() {
        new PointTracker(1, 1);
        assertThrows(IllegalArgumentException.class, () -> new PointTracker(0, 5));
        assertThrows(IllegalArgumentException.class, () -> new PointTracker(3, 0));
        List<RgbImage> frames = new ArrayList<>(translated(noise(2), 0, 0, 2));
        frames.add(MetricsTest.grey(SIDE, SIDE + 1, (x, y) -> 0));
        assertEquals("frame 2 differs in size from frame 0",
                assertThrows(IllegalArgumentException.class, () -> PointTracker.forSide(SIDE).track(frames, 10, 10)).getMessage());
    }

    /** Content that does not move: the tracked point stays, so the error at frame f is the drag's length so far. */
    @Test
    void staticClipErrorIsTheDragPathLength() {
        List<RgbImage> still = translated(noise(3), 0, 0, 5);
        DragError e = DragError.measure(still, List.of(DragPath.line(0.3, 0.5, 0.6, 0.5)), PointTracker.forSide(SIDE));
        double length = 0.3 * SIDE;                       // 19.2 px at the last frame
        for (int f = 0; f < 5; f++) assertEquals(length * f / 4, e.perFramePx()[f], 1e-5, "frame " + f);
        assertEquals(length * 2.5 / 4, e.meanPx(), 1e-5);  // mean of frames 1..4
        assertEquals(length * 2.5 / 4 / SIDE, e.meanNormalised(), 1e-7);
        assertEquals(length, e.endPx(), 1e-5);
    }

    /**
     * Two drags on still content: each is tracked from its own start (a point that stays) and the per-frame error is the
     * mean of their lengths so far (one drag alone cannot tell drag k's slot from drag 0's, nor a mean from a sum).
     */
    @Test
    void twoDragsAveragePerFrame() {
        List<RgbImage> still = translated(noise(4), 0, 0, 5);
        DragError e = DragError.measure(still, List.of(DragPath.line(0.3, 0.5, 0.6, 0.5), DragPath.line(0.25, 0.2, 0.25, 0.3)), PointTracker.forSide(SIDE));
        double a = 0.3 * SIDE, b = 0.1 * SIDE;             // 19.2 and 6.4 px at the last frame
        for (int f = 0; f < 5; f++) assertEquals((a + b) / 2 * f / 4, e.perFramePx()[f], 1e-5, "frame " + f);
        assertEquals(2, e.tracks().size());
        for (int f = 0; f < 5; f++) {
            assertEquals(0.3 * SIDE, e.tracks().get(0)[f][0], 0.5, "drag 0's track, frame " + f);
            assertEquals(0.25 * SIDE, e.tracks().get(1)[f][0], 0.5, "drag 1's track, frame " + f);
            assertEquals(0.2 * SIDE, e.tracks().get(1)[f][1], 0.5, "drag 1's track, frame " + f);
        }
    }

    /** Content moving exactly as the drag asks (2 px right, 1 px down per frame): no error beyond the tracker's. */
    @Test
    void contentFollowingTheDragHasNoError() {
        int frames = 6;
        double[] xs = new double[frames], ys = new double[frames];
        for (int f = 0; f < frames; f++) {
            xs[f] = (20 + 2.0 * f) / SIDE;
            ys[f] = (40 + 1.0 * f) / SIDE;
        }
        DragError e = DragError.measure(translated(noise(5), 2, 1, frames), List.of(new DragPath(xs, ys)), PointTracker.forSide(SIDE));
        assertTrue(e.meanPx() < 0.5, "mean error " + e.meanPx());
        assertEquals(0, e.perFramePx()[0], 1e-12);
    }

    @Test
    void withoutDragsTheErrorIsUndefined() {
        DragError e = DragError.measure(translated(noise(1), 0, 0, 3), List.of(), PointTracker.forSide(SIDE));
        assertTrue(Double.isNaN(e.meanPx()) && Double.isNaN(e.endPx()));
    }
}
