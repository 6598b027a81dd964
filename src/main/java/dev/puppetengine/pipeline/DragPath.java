package dev.puppetengine.pipeline;

import dev.puppetengine.model.drag.DragTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One drag in the model input's normalised coordinates (x = column / width, y = row / height, origin top
 * left, both in [0, 1]): either a start and an end point (the demo's clicks; frame f's target is the linear
 * interpolation start + (end - start) f / (F - 1)) or a full trajectory with one point per frame (frame 0 is
 * the start). Puppet-Master takes at most five ({@link DragTensor#SLOTS}).
 */
public record DragPath(double[] xs, double[] ys) {
    public DragPath {
        if (xs.length != ys.length || xs.length < 2) throw new IllegalArgumentException("a drag needs at least a start and an end point");
        for (int i = 0; i < xs.length; i++)
            if (!(xs[i] >= 0 && xs[i] <= 1 && ys[i] >= 0 && ys[i] <= 1))
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "drag point %d (%.4f, %.4f) is outside the image (normalised coordinates must be in [0, 1])", i, xs[i], ys[i]));
        xs = xs.clone();
        ys = ys.clone();
    }

    /** A copy: the drag is a value (as {@link #equals} compares it). */
    @Override
    public double[] xs() { return xs.clone(); }

    @Override
    public double[] ys() { return ys.clone(); }

    @Override
    public boolean equals(Object o) { return o instanceof DragPath d && Arrays.equals(xs, d.xs) && Arrays.equals(ys, d.ys); }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(xs) + Arrays.hashCode(ys); }

    @Override
    public String toString() { return "DragPath[xs=" + Arrays.toString(xs) + ", ys=" + Arrays.toString(ys) + "]"; }

    public static DragPath line(double x0, double y0, double x1, double y1) {
        return new DragPath(new double[]{x0, x1}, new double[]{y0, y1});
    }

    public boolean isTrajectory() { return xs.length > 2; }

    /** The drag tensor (F, 5, 4) row-major (spec 3.2; {@link DragTensor}): lines interpolated linearly over the frames. */
    public static float[] tensor(List<DragPath> drags, int frames) {
        List<double[]> tracks = new ArrayList<>();
        for (int k = 0; k < drags.size(); k++) {
            DragPath p = drags.get(k);
            if (p.isTrajectory() && p.xs.length != frames)
                throw new IllegalArgumentException("drag " + k + " has " + p.xs.length + " trajectory points, expected one per frame (" + frames + ")");
            double[] t = new double[2 * frames];
            for (int f = 0; f < frames; f++) {
                if (p.isTrajectory()) { t[2 * f] = p.xs[f]; t[2 * f + 1] = p.ys[f]; }
                else {
                    double a = frames == 1 ? 0 : (double) f / (frames - 1);
                    t[2 * f] = p.xs[0] + (p.xs[1] - p.xs[0]) * a;
                    t[2 * f + 1] = p.ys[0] + (p.ys[1] - p.ys[0]) * a;
                }
            }
            tracks.add(t);
        }
        return DragTensor.encode(tracks, frames);
    }

    /** Start and end pixel coordinates in a side x side image (for drawing). */
    public double[] endpointsPixels(int side) {
        int last = xs.length - 1;
        return new double[]{xs[0] * side, ys[0] * side, xs[last] * side, ys[last] * side};
    }
}
