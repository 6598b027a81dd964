package dev.puppetengine.model.drag;

import java.util.ArrayList;
import java.util.List;

/**
 * The model's drag tensor (spec 3.2): (F, 5, 4) float, per frame f and slot k (x_start, y_start, x_f, y_f) with
 * x = column / width and y = row / height (origin top-left); frame 0 has target == start; unused slots (at the
 * end) are all zero, so a drag may not start at the origin. The one encoder: sampling (pipeline.DragPath),
 * training clips (train.data.ClipDrags) and the drag-error metric all build the tensor here.
 */
public final class DragTensor {
    /** Drags the tensor holds (Puppet-Master takes at most five). */
    public static final int SLOTS = 5;

    private DragTensor() {}

    /** Encodes tracks of normalised points ({@code double[2F]} each: x_0, y_0, x_1, y_1, ... per frame, in [0, 1]). */
    public static float[] encode(List<double[]> tracks, int frames) {
        if (tracks.size() > SLOTS) throw new IllegalArgumentException(tracks.size() + " drags, the tensor holds at most " + SLOTS);
        float[] out = new float[frames * SLOTS * 4];
        for (int k = 0; k < tracks.size(); k++) {
            double[] t = tracks.get(k);
            if (t.length != 2 * frames)
                throw new IllegalArgumentException("drag " + k + " has " + t.length / 2 + " frames, expected " + frames);
            for (int i = 0; i < t.length; i++)
                if (!(t[i] >= 0 && t[i] <= 1))
                    throw new IllegalArgumentException("drag " + k + ": frame " + i / 2 + "'s " + (i % 2 == 0 ? "x" : "y") + " = " + t[i]
                            + " lies outside the image (normalised coordinates must be in [0, 1])");
            float xs = (float) t[0], ys = (float) t[1];
            if (xs == 0 && ys == 0)
                throw new IllegalArgumentException("drag " + k + " starts at the origin (the top-left corner of the square the model sees), which the drag tensor reads as an absent slot");
            for (int f = 0; f < frames; f++) {
                int o = (f * SLOTS + k) * 4;
                out[o] = xs;
                out[o + 1] = ys;
                out[o + 2] = (float) t[2 * f];
                out[o + 3] = (float) t[2 * f + 1];
            }
        }
        return out;
    }

    /** The same for pixel tracks of a width x height image ({@code double[2F]} each, see train.data.DragSelection). */
    public static float[] encodePixels(List<double[]> tracks, int frames, int width, int height) {
        List<double[]> normalised = new ArrayList<>();
        for (int k = 0; k < tracks.size(); k++) {
            double[] t = tracks.get(k), n = new double[t.length];
            for (int i = 0; i < t.length; i++) {
                int extent = i % 2 == 0 ? width : height;
                if (!(t[i] >= 0 && t[i] <= extent))
                    throw new IllegalArgumentException("drag " + k + ": " + (i % 2 == 0 ? "x" : "y") + " = " + t[i] + " px lies outside the image (0.." + extent + ")");
                n[i] = t[i] / extent;
            }
            normalised.add(n);
        }
        return encode(normalised, frames);
    }
}
