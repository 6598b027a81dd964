package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.pipeline.DragPath;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How well a generated video follows its drags: each drag's start point is tracked through the frames
 * ({@link PointTracker}) and compared with where the drag says it should be. {@code perFramePx[f]} is the
 * Euclidean distance between tracked point and target at frame f, averaged over the drags, in pixels of the
 * video (the model resolution). Frame 0 is 0 by construction and left out of the means.
 *
 * @param side   frame side in pixels (the normaliser)
 * @param tracks per drag, the tracked {x, y} per frame
 */
public record DragError(int side, double[] perFramePx, List<double[][]> tracks) {

    public static DragError measure(List<RgbImage> frames, List<DragPath> drags, PointTracker tracker) {
        int n = frames.size(), w = frames.get(0).width(), h = frames.get(0).height();
        float[] t = DragPath.tensor(drags, n);          // per frame and slot: (x_start, y_start, x_f, y_f), normalised
        double[] err = new double[n];
        List<double[][]> tracks = new ArrayList<>();
        for (int k = 0; k < drags.size(); k++) {
            double[][] p = tracker.track(frames, t[k * 4] * w, t[k * 4 + 1] * h);
            tracks.add(p);
            for (int f = 0; f < n; f++) {
                int o = (f * DragTensor.SLOTS + k) * 4;
                err[f] += Math.hypot(p[f][0] - t[o + 2] * w, p[f][1] - t[o + 3] * h) / drags.size();
            }
        }
        if (drags.isEmpty()) Arrays.fill(err, Double.NaN);
        return new DragError(Math.max(w, h), err, tracks);
    }

    /** Mean over frames 1..F-1 (NaN without drags or with a single frame). */
    public double meanPx() {
        double s = 0;
        for (int f = 1; f < perFramePx.length; f++) s += perFramePx[f];
        return perFramePx.length > 1 ? s / (perFramePx.length - 1) : Double.NaN;
    }

    public double meanNormalised() { return meanPx() / side; }

    /** At the last frame, where the drags end. */
    public double endPx() { return perFramePx[perFramePx.length - 1]; }
}
