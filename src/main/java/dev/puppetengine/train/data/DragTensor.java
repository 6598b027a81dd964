package dev.puppetengine.train.data;

import java.util.List;

/**
 * The model's drag tensor (spec 3.2): (F, 5, 4) float, per frame f and slot k
 * (x_start, y_start, x_f, y_f) with x = column / width and y = row / height (origin top-left); frame 0 has
 * target == start; unused slots (at the end) are all zero.
 */
public final class DragTensor {
    public static final int SLOTS = DragSelection.MAX_DRAGS;

    private DragTensor() {}

    /** Encodes pixel tracks ({@code double[2F]} each, see {@link DragSelection}) of a width x height image. */
    public static float[] encode(List<double[]> tracks, int frames, int width, int height) {
        if (tracks.size() > SLOTS) throw new IllegalArgumentException(tracks.size() + " drags, the tensor holds at most " + SLOTS);
        float[] out = new float[frames * SLOTS * 4];
        for (int k = 0; k < tracks.size(); k++) {
            double[] t = tracks.get(k);
            if (t.length != 2 * frames)
                throw new IllegalArgumentException("drag " + k + " has " + t.length / 2 + " frames, expected " + frames);
            float xs = normalise(t[0], width, k, "x"), ys = normalise(t[1], height, k, "y");
            if (xs == 0 && ys == 0)
                throw new IllegalArgumentException("drag " + k + " starts at the origin, which the tensor format reads as an absent slot");
            for (int f = 0; f < frames; f++) {
                int o = (f * SLOTS + k) * 4;
                out[o] = xs;
                out[o + 1] = ys;
                out[o + 2] = normalise(t[2 * f], width, k, "x");
                out[o + 3] = normalise(t[2 * f + 1], height, k, "y");
            }
        }
        return out;
    }

    private static float normalise(double pixels, int extent, int drag, String axis) {
        float v = (float) (pixels / extent);
        if (!(v >= 0 && v <= 1))
            throw new IllegalArgumentException("drag " + drag + ": " + axis + " = " + pixels + " px lies outside the image (0.." + extent + ")");
        return v;
    }
}
