package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.Shape;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.RoundRectangle2D;
import java.util.SplittableRandom;

/** A static shape (ellipse, rounded box, polygon, star or ring) that never moves: clutter the model must leave alone. */
final class Distractor {
    private Distractor() {}

    static void build(SceneBuilder b, Placement at) {
        SplittableRandom r = b.rng;
        double rad = at.extent() * r.nextDouble(0.25, 0.45);
        Shape shape = switch (r.nextInt(5)) {
            case 0 -> new Ellipse2D.Double(-rad, -rad * r.nextDouble(0.5, 1), 2 * rad, 2 * rad * r.nextDouble(0.5, 1));
            case 1 -> new RoundRectangle2D.Double(-rad, -rad * 0.7, 2 * rad, 1.4 * rad, rad * 0.5, rad * 0.5);
            case 2 -> star(3 + r.nextInt(6), rad, rad);
            case 3 -> star(4 + r.nextInt(4), rad, rad * r.nextDouble(0.4, 0.6));
            default -> ring(rad, rad * r.nextDouble(0.4, 0.65));
        };
        Color c = Palette.color(r);
        int id = b.part("shape", false);
        b.outlined(id, shape, Palette.fill(r, c, shape.getBounds2D()), Palette.shade(c, 0.4), Palette.line(at.extent()),
                b.still(at.transform(r.nextDouble(0, 2 * Math.PI), false)));
    }

    /** A regular polygon ({@code inner == outer}) or a star with {@code points} tips. */
    private static Shape star(int points, double outer, double inner) {
        Path2D p = new Path2D.Double();
        int corners = inner == outer ? points : 2 * points;
        for (int i = 0; i < corners; i++) {
            double a = 2 * Math.PI * i / corners, rad = i % 2 == 0 ? outer : inner;
            if (i == 0) p.moveTo(rad * Math.cos(a), rad * Math.sin(a));
            else p.lineTo(rad * Math.cos(a), rad * Math.sin(a));
        }
        p.closePath();
        return p;
    }

    private static Shape ring(double outer, double inner) {
        Area a = new Area(new Ellipse2D.Double(-outer, -outer, 2 * outer, 2 * outer));
        a.subtract(new Area(new Ellipse2D.Double(-inner, -inner, 2 * inner, 2 * inner)));
        return a;
    }
}
