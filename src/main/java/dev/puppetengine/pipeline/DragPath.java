package dev.puppetengine.pipeline;

import java.util.List;

/**
 * One drag in the model input's normalised coordinates (x = column / width, y = row / height, origin top
 * left, both in [0, 1]): either a start and an end point (the demo's clicks; frame f's target is the linear
 * interpolation start + (end - start) f / (F - 1)) or a full trajectory with one point per frame (frame 0 is
 * the start). Puppet-Master takes at most five.
 */
public record DragPath(double[] xs, double[] ys) {
    public static final int MAX_DRAGS = 5;

    public DragPath {
        if (xs.length != ys.length || xs.length < 2) throw new IllegalArgumentException("a drag needs at least a start and an end point");
        for (int i = 0; i < xs.length; i++)
            if (!(xs[i] >= 0 && xs[i] <= 1 && ys[i] >= 0 && ys[i] <= 1))
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                        "drag point %d (%.4f, %.4f) is outside the image (normalised coordinates must be in [0, 1])", i, xs[i], ys[i]));
        xs = xs.clone();
        ys = ys.clone();
    }

    public static DragPath line(double x0, double y0, double x1, double y1) {
        return new DragPath(new double[]{x0, x1}, new double[]{y0, y1});
    }

    public boolean isTrajectory() { return xs.length > 2; }

    /** The drag tensor (F, 5, 4) row-major: (x_start, y_start, x_f, y_f) per frame and slot, absent slots 0 (spec 3.2). */
    public static float[] tensor(List<DragPath> drags, int frames) {
        if (drags.size() > MAX_DRAGS) throw new IllegalArgumentException("at most " + MAX_DRAGS + " drags, got " + drags.size());
        float[] d = new float[frames * MAX_DRAGS * 4];
        for (int k = 0; k < drags.size(); k++) {
            DragPath p = drags.get(k);
            if (p.isTrajectory() && p.xs.length != frames)
                throw new IllegalArgumentException("drag " + k + " has " + p.xs.length + " trajectory points, expected one per frame (" + frames + ")");
            for (int f = 0; f < frames; f++) {
                double x, y;
                if (p.isTrajectory()) { x = p.xs[f]; y = p.ys[f]; }
                else {
                    double a = frames == 1 ? 0 : (double) f / (frames - 1);
                    x = p.xs[0] + (p.xs[1] - p.xs[0]) * a;
                    y = p.ys[0] + (p.ys[1] - p.ys[0]) * a;
                }
                int o = (f * MAX_DRAGS + k) * 4;
                d[o] = (float) p.xs[0];
                d[o + 1] = (float) p.ys[0];
                d[o + 2] = (float) x;
                d[o + 3] = (float) y;
            }
        }
        return d;
    }

    /** Start and end pixel coordinates in a side x side image (for drawing). */
    public double[] endpointsPixels(int side) {
        int last = xs.length - 1;
        return new double[]{xs[0] * side, ys[0] * side, xs[last] * side, ys[last] * side};
    }
}
