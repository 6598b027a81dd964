package dev.puppetengine.train.data;

import dev.puppetengine.model.drag.DragTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The reference loader's choice of drags among tracked points (spec 4.5), for tracks in pixels of an image
 * of side {@code size}. A track is {@code double[2F]}: (x, y) of one point in frames 0..F-1.
 *
 * <p>Rules, in order: more than {@link DragTensor#SLOTS} tracks: a random subset of 5 (in random order); drop track
 * j when the per-frame distances to an earlier kept track i sum to at most F x threshold; keep the longest
 * path and each other track with probability min(1, 2 L_i / L_max). The reference renders at 512 px with a
 * 20 px threshold; here the threshold scales with the image: 20 * size / 512.
 */
public final class DragSelection {
    private static final double REFERENCE_SIZE = 512;
    private static final double REFERENCE_DUPLICATE_PX = 20;

    private DragSelection() {}

    /** Mean per-frame distance (pixels) at or below which two tracks count as duplicates at image side {@code size}. */
    public static double duplicateThreshold(int size) {
        return REFERENCE_DUPLICATE_PX * size / REFERENCE_SIZE;
    }

    /**
     * Chooses at most {@link DragTensor#SLOTS} drags: the reference rules on the moving candidates, then, with
     * probability {@code staticProbability} and a slot free, one of the static candidates appended (a drag
     * that stays put teaches the model to hold that point still; the reference data has none, and its
     * length rule would always drop one, so it is added after the rules).
     */
    public static List<double[]> choose(List<double[]> moving, List<double[]> still, double staticProbability,
                                        int size, SplittableRandom rng) {
        List<double[]> chosen = keepByLength(dropDuplicates(subset(moving, rng), duplicateThreshold(size)), rng);
        if (!still.isEmpty() && chosen.size() < DragTensor.SLOTS && rng.nextDouble() < staticProbability)
            chosen.add(still.get(rng.nextInt(still.size())));
        return chosen;
    }

    /** All tracks when there are at most {@link DragTensor#SLOTS}, else a uniformly random 5 of them in random order. */
    public static List<double[]> subset(List<double[]> tracks, SplittableRandom rng) {
        if (tracks.size() <= DragTensor.SLOTS) return new ArrayList<>(tracks);
        List<double[]> pool = new ArrayList<>(tracks);
        List<double[]> out = new ArrayList<>(DragTensor.SLOTS);
        for (int k = 0; k < DragTensor.SLOTS; k++) out.add(pool.remove(rng.nextInt(pool.size())));
        return out;
    }

    /** Drops every track whose summed per-frame distance to an earlier kept track is at most frames x threshold. */
    public static List<double[]> dropDuplicates(List<double[]> tracks, double perFrameThreshold) {
        List<double[]> kept = new ArrayList<>();
        for (double[] t : tracks) {
            double limit = frames(t) * perFrameThreshold;
            boolean duplicate = false;
            for (double[] k : kept) duplicate |= distanceSum(k, t) <= limit;
            if (!duplicate) kept.add(t);
        }
        return kept;
    }

    /**
     * Keeps the longest path (the first on ties) and every other track with probability min(1, 2 L_i / L_max),
     * in their order. When no track moves at all every one is kept, as the reference's 0/0 comparison does.
     */
    public static List<double[]> keepByLength(List<double[]> tracks, SplittableRandom rng) {
        int longest = -1;
        double max = 0;
        for (int i = 0; i < tracks.size(); i++) {
            double len = pathLength(tracks.get(i));
            if (longest < 0 || len > max) { longest = i; max = len; }
        }
        List<double[]> kept = new ArrayList<>();
        for (int i = 0; i < tracks.size(); i++) {
            boolean keep = i == longest || max == 0 || rng.nextDouble() <= 2 * pathLength(tracks.get(i)) / max;
            if (keep) kept.add(tracks.get(i));
        }
        return kept;
    }

    /** Total length of the polyline through a track's per-frame positions. */
    public static double pathLength(double[] track) {
        double len = 0;
        for (int i = 2; i < track.length; i += 2) len += Math.hypot(track[i] - track[i - 2], track[i + 1] - track[i - 1]);
        return len;
    }

    /** Sum over frames of the distance between two tracks' positions in the same frame. */
    public static double distanceSum(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("tracks of " + frames(a) + " and " + frames(b) + " frames");
        double sum = 0;
        for (int i = 0; i < a.length; i += 2) sum += Math.hypot(a[i] - b[i], a[i + 1] - b[i + 1]);
        return sum;
    }

    private static int frames(double[] track) {
        return track.length / 2;
    }
}
