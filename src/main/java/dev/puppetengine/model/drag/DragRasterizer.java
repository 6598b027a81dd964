package dev.puppetengine.model.drag;

import java.util.Arrays;

/**
 * Drags to raster images (spec 3.3), computed independently at each resolution r. Drag k owns channels
 * 6k..6k+5: (x, y) sub-cell offsets of its start point (at the start cell), of the current frame's target
 * (at that cell) and of the last frame's target (at that cell); every other value is -1. Cell and offset of
 * a normalised coordinate u: cell = clamp(roundHalfEven(u r - 0.5), 0, r - 1), offset = u r - cell,
 * evaluated in float32 like the reference. A slot writes nothing in a frame where all four numbers are 0.
 */
public final class DragRasterizer {
    private DragRasterizer() {}

    public static final int CHANNELS_PER_DRAG = 6;

    /**
     * drags (B, F, K, 4) row-major -> raster (B*F, r, r, 6K) channels-last, row-major.
     */
    public static float[] rasterize(float[] drags, int b, int frames, int k, int r) {
        int ch = CHANNELS_PER_DRAG * k;
        float[] out = new float[b * frames * r * r * ch];
        Arrays.fill(out, -1f);
        for (int v = 0; v < b; v++)
            for (int f = 0; f < frames; f++)
                for (int d = 0; d < k; d++) {
                    int at = ((v * frames + f) * k + d) * 4, last = ((v * frames + frames - 1) * k + d) * 4;
                    if (drags[at] == 0 && drags[at + 1] == 0 && drags[at + 2] == 0 && drags[at + 3] == 0) continue;
                    int img = v * frames + f;
                    write(out, img, r, ch, 6 * d, drags[at], drags[at + 1]);
                    write(out, img, r, ch, 6 * d + 2, drags[at + 2], drags[at + 3]);
                    write(out, img, r, ch, 6 * d + 4, drags[last + 2], drags[last + 3]);
                }
        return out;
    }

    private static void write(float[] out, int img, int r, int ch, int c, float u, float v) {
        int cx = cell(u, r), cy = cell(v, r);
        int px = ((img * r + cy) * r + cx) * ch;
        out[px + c] = u * r - cx;
        out[px + c + 1] = v * r - cy;
    }

    public static int cell(float u, int r) {
        double c = Math.rint(u * r - 0.5f);
        return (int) Math.min(Math.max(c, 0), r - 1);
    }

    /** Drag k of video b is absent iff its four numbers are 0 in every frame (its rasters are then all -1). */
    public static boolean[] present(float[] drags, int b, int frames, int k) {
        boolean[] p = new boolean[b * k];
        for (int v = 0; v < b; v++)
            for (int f = 0; f < frames; f++)
                for (int d = 0; d < k; d++) {
                    int at = ((v * frames + f) * k + d) * 4;
                    if (drags[at] != 0 || drags[at + 1] != 0 || drags[at + 2] != 0 || drags[at + 3] != 0) p[v * k + d] = true;
                }
        return p;
    }
}
