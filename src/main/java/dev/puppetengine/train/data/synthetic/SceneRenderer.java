package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.util.Arrays;

/**
 * Rasterises a {@link Scene} with Java2D: the clip's RGB frames (antialiased) and its part-id masks (not
 * antialiased: a pixel takes the id of the topmost piece covering its centre). Both use pure stroke
 * control, so pixels follow the exact geometry that the drag tracks follow.
 */
public final class SceneRenderer {
    /** Scene coordinates put pixel centres at integers; Java2D puts them at +0.5. */
    private static final AffineTransform PIXEL_CENTRES = AffineTransform.getTranslateInstance(0.5, 0.5);

    private SceneRenderer() {}

    /** Frames (F, S, S, 3) uint8 RGB, row-major. */
    public static byte[] render(Scene s) {
        int n = s.size() * s.size();
        byte[] out = new byte[s.frames() * n * 3];
        BufferedImage img = new BufferedImage(s.size(), s.size(), BufferedImage.TYPE_INT_RGB);
        int[] px = ((DataBufferInt) img.getRaster().getDataBuffer()).getData();
        for (int f = 0; f < s.frames(); f++) {
            System.arraycopy(s.background(), 0, px, 0, n);
            draw(img, s, f, true);
            for (int i = 0, o = f * n * 3; i < n; i++, o += 3) {
                out[o] = (byte) (px[i] >> 16);
                out[o + 1] = (byte) (px[i] >> 8);
                out[o + 2] = (byte) px[i];
            }
        }
        return out;
    }

    /** Part ids (F, S, S), row-major; 0 is background. */
    public static byte[] renderIds(Scene s) {
        int n = s.size() * s.size();
        byte[] out = new byte[s.frames() * n];
        BufferedImage img = new BufferedImage(s.size(), s.size(), BufferedImage.TYPE_INT_RGB);
        int[] px = ((DataBufferInt) img.getRaster().getDataBuffer()).getData();
        for (int f = 0; f < s.frames(); f++) {
            Arrays.fill(px, 0);
            draw(img, s, f, false);
            for (int i = 0; i < n; i++) out[f * n + i] = (byte) px[i];
        }
        return out;
    }

    private static void draw(BufferedImage img, Scene s, int f, boolean colour) {
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, colour ? RenderingHints.VALUE_ANTIALIAS_ON : RenderingHints.VALUE_ANTIALIAS_OFF);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.setRenderingHint(RenderingHints.KEY_COLOR_RENDERING, RenderingHints.VALUE_COLOR_RENDER_QUALITY);
            for (Piece p : s.pieces()) {
                AffineTransform t = new AffineTransform(PIXEL_CENTRES);
                t.concatenate(p.poses[f]);
                g.setTransform(t);
                g.setPaint(colour ? p.paint : new Color(p.partId));
                g.fill(p.shape);
            }
        } finally {
            g.dispose();
        }
    }
}
