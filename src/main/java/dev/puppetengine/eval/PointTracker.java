package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;

import java.util.List;

/**
 * Follows a point through a video by local template matching on luma (see {@link ImageMetrics#luma}).
 *
 * <p>The template is the (2 patchRadius + 1)^2 patch around the point in frame 0 and stays fixed, so errors do
 * not accumulate as they would if each frame were matched to the previous one. In each next frame the
 * template is compared, by the mean squared difference, at every integer offset within searchRadius of the
 * previous frame's match, so the point can travel far in total while the search stays local. Ties go to the
 * smaller displacement (a point on a flat, static region stays put), then to the first in scan order (rows top to
 * bottom, each left to right). Matches are whole pixels, so the
 * track is the start point moved by integer displacements: sub-pixel motion is resolved to within half a pixel
 * per axis (a parabolic SSD refinement was tried and dropped: on textured content it biases exact, static
 * matches). The mean runs over the patch's pixels that lie inside the image in both frame 0 and the candidate's
 * place, and match centres stay inside the image: near an edge, padding (e.g. repeated edge pixels) would be compared
 * with content entering there and could outscore the true motion, taking the track off the frame.
 * Coordinates are pixels: x = column, y = row, pixel centres at integers.
 */
public record PointTracker(int patchRadius, int searchRadius) {
    public PointTracker {
        if (patchRadius < 1 || searchRadius < 1) throw new IllegalArgumentException("patch and search radius must be >= 1, got " + patchRadius + ", " + searchRadius);
    }

    /** Radii that scale with the frame side: 3 and 6 pixels at 64, 8 and 25 at 256. */
    public static PointTracker forSide(int side) {
        return new PointTracker(Math.max(3, side / 32), Math.max(6, side / 10));
    }

    /** The point's position in every frame as {x, y}; frame 0 is (x0, y0) itself. */
    public double[][] track(List<RgbImage> frames, double x0, double y0) {
        int w = frames.get(0).width(), h = frames.get(0).height();
        double[] first = ImageMetrics.luma(frames.get(0));
        // a drag point on the border (normalised 1.0 is x = side) is matched from the nearest pixel
        int px = clamp((int) Math.round(x0), w), py = clamp((int) Math.round(y0), h), r = patchRadius;
        double[] template = new double[(2 * r + 1) * (2 * r + 1)];
        for (int dy = -r, i = 0; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++, i++)
                template[i] = inside(px + dx, w) && inside(py + dy, h) ? first[(py + dy) * w + px + dx] : Double.NaN;
        double[][] out = new double[frames.size()][];
        out[0] = new double[]{x0, y0};
        int cx = px, cy = py;                          // integer match centre of the previous frame
        for (int f = 1; f < frames.size(); f++) {
            RgbImage frame = frames.get(f);
            if (frame.width() != w || frame.height() != h) throw new IllegalArgumentException("frame " + f + " differs in size from frame 0");
            double[] lum = ImageMetrics.luma(frame);
            int bx = 0, by = 0;
            double best = Double.POSITIVE_INFINITY;
            for (int oy = Math.max(-searchRadius, -cy); oy <= Math.min(searchRadius, h - 1 - cy); oy++)
                for (int ox = Math.max(-searchRadius, -cx); ox <= Math.min(searchRadius, w - 1 - cx); ox++) {
                    double d = msd(template, lum, w, h, cx + ox, cy + oy);
                    if (d < best || d == best && ox * ox + oy * oy < bx * bx + by * by) {
                        best = d;
                        bx = ox;
                        by = oy;
                    }
                }
            cx += bx;
            cy += by;
            out[f] = new double[]{x0 + cx - px, y0 + cy - py};
        }
        return out;
    }

    /** Mean squared difference over the pixels inside both images; the centre always is, so the count is >= 1. */
    private double msd(double[] template, double[] lum, int w, int h, int cx, int cy) {
        int r = patchRadius, n = 0;
        double sum = 0;
        for (int dy = -r, i = 0; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++, i++) {
                if (Double.isNaN(template[i]) || !inside(cx + dx, w) || !inside(cy + dy, h)) continue;
                double d = lum[(cy + dy) * w + cx + dx] - template[i];
                sum += d * d;
                n++;
            }
        return sum / n;
    }

    private static boolean inside(int v, int n) {
        return v >= 0 && v < n;
    }

    private static int clamp(int v, int n) {
        return Math.max(0, Math.min(n - 1, v));
    }
}
