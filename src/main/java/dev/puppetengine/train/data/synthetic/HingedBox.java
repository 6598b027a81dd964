package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.util.SplittableRandom;

/**
 * Something that opens on a hinge. Either a chest seen from the side whose lid rotates about its back
 * edge (an in-plane rotation about the pivot), or a cupboard seen from the front whose door swings open,
 * drawn as the door squashing towards its hinge edge (x scaled about the hinge: the affine shadow of a
 * door turning away from the viewer), uncovering shelves behind it.
 */
final class HingedBox {
    private HingedBox() {}

    static void build(SceneBuilder b, Placement at, boolean animate) {
        if (b.rng.nextBoolean()) lid(b, at, animate);
        else door(b, at, animate);
    }

    private static void lid(SceneBuilder b, Placement at, boolean animate) {
        SplittableRandom r = b.rng;
        double w = at.extent() * r.nextDouble(0.55, 0.8), h = w * r.nextDouble(0.45, 0.85), t = h * r.nextDouble(0.12, 0.22);
        AffineTransform object = at.transform(r.nextDouble(-0.3, 0.3), false);
        AffineTransform[] still = b.still(object);
        double top = -h / 2 + w * 0.2; // leaves room above the box for the open lid
        Color body = Palette.color(r), lid = Palette.contrasting(r, body), dark = Palette.shade(body, 0.3);
        double line = Palette.line(at.extent());

        int box = b.part("box", false);
        Rectangle2D boxRect = new Rectangle2D.Double(-w / 2, top, w, h);
        b.outlined(box, boxRect, Palette.fill(r, body, boxRect), dark, line, still);
        b.fill(box, new Rectangle2D.Double(-w / 2 + 1.5 * line, top - t / 2, w - 3 * line, t * 1.2), dark, still);
        b.fill(box, new Rectangle2D.Double(-w / 2, top + h * r.nextDouble(0.35, 0.6), w, h * 0.08), Palette.shade(body, 0.6), still);

        int side = r.nextBoolean() ? 1 : -1; // hinge on the right (+1) or left (-1) back edge
        double pivotX = side * w / 2, pivotY = top + t / 2;
        double opening = side * Math.toRadians(r.nextDouble(40, 110));
        MotionTiming progress = MotionTiming.random(r);
        int lidId = b.part("lid", animate);
        AffineTransform[] poses = animate
                ? b.moving(object, f -> AffineTransform.getRotateInstance(opening * progress.at(b.time(f)), pivotX, pivotY))
                : still;
        Rectangle2D lidRect = new Rectangle2D.Double(-w / 2, top - t / 2, w, t);
        b.outlined(lidId, lidRect, Palette.fill(r, lid, lidRect), Palette.shade(lid, 0.4), line, poses);
        double tab = w * 0.08;
        b.fill(lidId, new Rectangle2D.Double(side > 0 ? -w / 2 - tab * 0.6 : w / 2 - tab * 0.4, top - t / 2, tab, t * 0.8),
                Palette.shade(lid, 0.5), poses);
    }

    private static void door(SceneBuilder b, Placement at, boolean animate) {
        SplittableRandom r = b.rng;
        double aspect = r.nextDouble(0.5, 1.3);
        double w = at.extent() * Math.min(1, aspect) * 0.8, h = at.extent() / Math.max(1, aspect) * 0.8;
        AffineTransform object = at.transform(r.nextDouble(-0.15, 0.15), false);
        AffineTransform[] still = b.still(object);
        Color body = Palette.color(r), door = Palette.contrasting(r, body), dark = Palette.shade(body, 0.25);
        double line = Palette.line(at.extent()), margin = w * r.nextDouble(0.06, 0.12);

        int cupboard = b.part("cupboard", false);
        Rectangle2D bodyRect = new Rectangle2D.Double(-w / 2, -h / 2, w, h);
        b.outlined(cupboard, bodyRect, Palette.fill(r, body, bodyRect), dark, line, still);
        Rectangle2D inside = new Rectangle2D.Double(-w / 2 + margin, -h / 2 + margin, w - 2 * margin, h - 2 * margin);
        b.fill(cupboard, inside, dark, still);
        int shelves = 1 + r.nextInt(3);
        for (int i = 1; i <= shelves; i++)
            b.fill(cupboard, new Rectangle2D.Double(inside.getX(), inside.getY() + inside.getHeight() * i / (shelves + 1) - line / 2,
                    inside.getWidth(), Math.max(line, h * 0.03)), Palette.shade(body, 0.7), still);

        int side = r.nextBoolean() ? 1 : -1; // hinge on the right (+1) or left (-1) edge
        Rectangle2D panel = new Rectangle2D.Double(inside.getX() - margin / 3, inside.getY() - margin / 3,
                inside.getWidth() + 2 * margin / 3, inside.getHeight() + 2 * margin / 3);
        double hingeX = side > 0 ? panel.getMaxX() : panel.getMinX();
        double narrowest = r.nextDouble(0.2, 0.5);
        MotionTiming progress = MotionTiming.random(r);
        int doorId = b.part("door", animate);
        AffineTransform[] poses = animate ? b.moving(object, f -> {
            AffineTransform m = AffineTransform.getTranslateInstance(hingeX, 0);
            m.scale(1 - (1 - narrowest) * progress.at(b.time(f)), 1);
            m.translate(-hingeX, 0);
            return m;
        }) : still;
        b.outlined(doorId, panel, Palette.fill(r, door, panel), Palette.shade(door, 0.4), line, poses);
        double knob = Math.max(line * 1.5, panel.getWidth() * 0.08);
        double knobX = side > 0 ? panel.getMinX() + knob : panel.getMaxX() - 2 * knob;
        b.fill(doorId, new Ellipse2D.Double(knobX, -knob / 2, knob, knob), Palette.shade(door, 0.35), poses);
    }
}
