package dev.puppetengine.train.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reference drag selection rules (spec 4.5) on hand-made tracks. */
class DragSelectionTest {
    private static final int F = 14;

    /** A point starting at (x, y) that moves by (dx, dy) per frame. */
    private static double[] line(double x, double y, double dx, double dy) {
        double[] t = new double[2 * F];
        for (int f = 0; f < F; f++) {
            t[2 * f] = x + f * dx;
            t[2 * f + 1] = y + f * dy;
        }
        return t;
    }

    @Test
    void thresholdIsTwentyPixelsAt512AndScalesWithTheImage() {
        assertEquals(20, DragSelection.duplicateThreshold(512), 0);
        assertEquals(2.5, DragSelection.duplicateThreshold(64), 0);
        assertEquals(10, DragSelection.duplicateThreshold(256), 0);
    }

    @Test
    void lengthsAndDistancesOfStraightTracks() {
        assertEquals(13 * 5, DragSelection.pathLength(line(0, 0, 3, 4)), 1e-9);
        assertEquals(F * 5, DragSelection.distanceSum(line(0, 0, 1, 1), line(3, 4, 1, 1)), 1e-9);
    }

    /** Tracks of different lengths are two clips' tracks mixed up: refused, not summed over the shorter one. */
    @Test
    void distancesBetweenTracksOfDifferentFrameCountsAreRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> DragSelection.distanceSum(new double[] {0, 0, 1, 1}, new double[] {0, 0, 1, 1, 2, 2}));
        assertEquals("tracks of 2 and 3 frames", e.getMessage());
    }

    @Test
    void dropsTracksWithinTheThresholdOfAnEarlierKeptTrack() {
        double thr = 2.5;
        double[] a = line(10, 10, 1, 0);
        double[] nearA = line(12, 10, 1, 0);          // 2 px from a in every frame
        double[] atThreshold = line(10, 12.5, 1, 0);  // exactly the threshold: still a duplicate (<=)
        double[] beyond = line(10, 12.6, 1, 0);       // just over: kept
        List<double[]> kept = DragSelection.dropDuplicates(List.of(a, nearA, atThreshold, beyond), thr);
        assertEquals(List.of(a, beyond), kept);
    }

    @Test
    void onlyKeptTracksRemoveLaterOnes() {
        double thr = 2.5;
        double[] a = line(10, 10, 1, 0);
        double[] b = line(12, 10, 1, 0); // duplicate of a: dropped
        double[] c = line(14, 10, 1, 0); // duplicate of b only (4 px from a): kept because b was dropped
        assertEquals(List.of(a, c), DragSelection.dropDuplicates(List.of(a, b, c), thr));
    }

    @Test
    void summedDistanceCountsWhenTracksOnlyMeetBriefly() {
        // Tracks that coincide in frame 0 but separate fast are not duplicates: the whole path counts.
        double[] a = line(10, 10, 1, 0), b = line(10, 10, -1, 0);
        assertEquals(2, DragSelection.dropDuplicates(List.of(a, b), 2.5).size());
    }

    @Test
    void longestIsAlwaysKeptAndLongEnoughOthersToo() {
        double[] longest = line(0, 0, 2, 0);  // L = 26
        double[] half = line(5, 5, 1, 0);     // L = 13: 2 L / Lmax = 1, always kept
        double[] still = line(9, 9, 0, 0);    // L = 0: never kept
        for (long seed = 0; seed < 200; seed++) {
            List<double[]> kept = DragSelection.keepByLength(List.of(half, still, longest), new SplittableRandom(seed));
            assertEquals(List.of(half, longest), kept, "seed " + seed);
        }
    }

    /** In either order: with the longest first, the short one must not be mistaken for the longest (always kept). */
    @Test
    void shortTracksSurviveWithProbabilityTwiceTheirRelativeLength() {
        double[] longest = line(0, 0, 5, 0);   // L = 65
        double[] shortOne = line(5, 5, 1, 0);  // L = 13: kept with probability 0.4
        for (boolean longestFirst : new boolean[] {false, true}) {
            List<double[]> tracks = longestFirst ? List.of(longest, shortOne) : List.of(shortOne, longest);
            SplittableRandom rng = new SplittableRandom(3);
            int trials = 4000, kept = 0;
            for (int i = 0; i < trials; i++) {
                List<double[]> out = DragSelection.keepByLength(tracks, rng);
                assertSame(longest, out.get(longestFirst ? 0 : out.size() - 1), "kept, in its place");
                if (out.size() == 2) kept++;
            }
            assertEquals(0.4, kept / (double) trials, 0.03, "longest first: " + longestFirst);
        }
    }

    @Test
    void noMotionAtAllKeepsEveryTrackLikeTheReference() {
        List<double[]> still = List.of(line(1, 1, 0, 0), line(9, 9, 0, 0));
        assertEquals(still, DragSelection.keepByLength(still, new SplittableRandom(1)));
    }

    @Test
    void subsetOfFiveDistinctTracksWhenThereAreMore() {
        List<double[]> tracks = new ArrayList<>();
        for (int i = 0; i < 9; i++) tracks.add(line(i, 0, 1, 1));
        List<double[]> sub = DragSelection.subset(tracks, new SplittableRandom(5));
        assertEquals(5, sub.size());
        assertEquals(5, sub.stream().distinct().count());
        assertTrue(tracks.containsAll(sub));
        List<double[]> few = tracks.subList(0, 4);
        assertEquals(few, DragSelection.subset(few, new SplittableRandom(5)));
    }

    @Test
    void staticDragIsAppendedByProbabilityWhenASlotIsFree() {
        List<double[]> moving = List.of(line(0, 0, 2, 0));
        List<double[]> still = List.of(line(30, 30, 0, 0));
        assertEquals(List.of(moving.get(0), still.get(0)), DragSelection.choose(moving, still, 1, 64, new SplittableRandom(1)));
        assertEquals(moving, DragSelection.choose(moving, still, 0, 64, new SplittableRandom(1)));
        List<double[]> five = new ArrayList<>();
        for (int i = 0; i < 5; i++) five.add(line(10 * i, 0, 2, 1)); // far apart, equally long: all survive
        assertEquals(five, DragSelection.choose(five, still, 1, 64, new SplittableRandom(1)));
    }
}
