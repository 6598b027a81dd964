package dev.puppetengine.io.image;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Draws drags as arrows, in the reference demo's style: a yellow arrow over a wider black one (so it shows
 * on light and dark content), an open arrow head at the end point with 45-degree barbs. Widths scale with
 * the image (4 and 2 pixels at 256 high); the head is 10% of the arrow as in OpenCV's arrowedLine, but at
 * least 5 pixels (at 256 high) so short drags still show a direction. Antialiased.
 */
public final class DragOverlay {
    /** The demo's GIF starts with this many copies of frame 0 with the drags drawn on it. */
    public static final int LEAD_IN_FRAMES = 5;
    private static final Color OUTLINE = Color.BLACK;
    private static final Color FILL = new Color(255, 255, 0);

    private DragOverlay() {}

    /** A copy of {@code frame} with the drags drawn on it. */
    public static RgbImage draw(RgbImage frame, List<Drag> drags) {
        BufferedImage img = frame.toBufferedImage();
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.translate(0.5, 0.5); // drag coordinates are pixel indices; Java2D puts pixel (x, y)'s centre at x + 0.5
            float scale = frame.height() / 256f;
            for (Drag d : drags) {
                Path2D arrow = arrow(d, scale);
                stroke(g, arrow, OUTLINE, 4 * scale);
                stroke(g, arrow, FILL, 2 * scale);
            }
        } finally {
            g.dispose();
        }
        return RgbImage.fromBufferedImage(img);
    }

    /** The demo's sequence: {@value #LEAD_IN_FRAMES} copies of frame 0 with the drags, then the frames unchanged. */
    public static List<RgbImage> demoSequence(List<RgbImage> frames, List<Drag> drags) {
        if (frames.isEmpty()) throw new IllegalArgumentException("no frames");
        List<RgbImage> out = new ArrayList<>(Collections.nCopies(LEAD_IN_FRAMES, draw(frames.get(0), drags)));
        out.addAll(frames);
        return out;
    }

    private static Path2D arrow(Drag d, float scale) {
        Path2D p = new Path2D.Double();
        p.append(new Line2D.Double(d.startX(), d.startY(), d.endX(), d.endY()), false);
        double len = d.length();
        if (len > 0) {
            double tip = Math.max(0.1 * len, 5 * scale);
            double back = Math.atan2(d.startY() - d.endY(), d.startX() - d.endX());
            for (double side : new double[] {-Math.PI / 4, Math.PI / 4}) {
                p.moveTo(d.endX(), d.endY());
                p.lineTo(d.endX() + tip * Math.cos(back + side), d.endY() + tip * Math.sin(back + side));
            }
        }
        return p;
    }

    private static void stroke(Graphics2D g, Path2D shape, Color color, float width) {
        g.setColor(color);
        g.setStroke(new BasicStroke(width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        g.draw(shape);
    }
}
