package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.geom.AffineTransform;
import java.awt.geom.Rectangle2D;
import java.awt.geom.RoundRectangle2D;
import java.util.SplittableRandom;

/**
 * A cabinet (front view) with a stack of drawers; when animated one drawer slides sideways out of (or back
 * into) its slot, uncovering the dark slot behind it. Cabinets stand upright, slightly tilted, or lie on
 * their side (then the drawer moves vertically in the image).
 */
final class Cabinet {
    private Cabinet() {}

    static void build(SceneBuilder b, Placement at, boolean animate) {
        SplittableRandom r = b.rng;
        double aspect = r.nextDouble(0.55, 1.5);
        double w = at.extent() * Math.min(1, aspect) * 0.8, h = at.extent() / Math.max(1, aspect) * 0.8;
        int drawers = 1 + r.nextInt((int) Math.max(1, Math.min(4, Math.round(2 * h / w)))); // taller cabinets hold more
        double angle = r.nextDouble(-0.2, 0.2) + (r.nextDouble() < 0.25 ? Math.PI / 2 : 0);
        AffineTransform object = at.transform(angle, false);
        AffineTransform[] still = b.still(object);

        Color body = Palette.color(r), front = Palette.contrasting(r, body), dark = Palette.shade(body, 0.3);
        double line = Palette.line(at.extent());
        int cabinet = b.part("cabinet", false);
        Rectangle2D bodyRect = new Rectangle2D.Double(-w / 2, -h / 2, w, h);
        b.outlined(cabinet, bodyRect, Palette.fill(r, body, bodyRect), dark, line, still);

        double margin = w * r.nextDouble(0.06, 0.12), gap = h * 0.04;
        double slotW = w - 2 * margin, slotH = (h - 2 * margin - (drawers - 1) * gap) / drawers;
        int movingSlot = animate ? r.nextInt(drawers) : -1;
        double slide = (r.nextBoolean() ? 1 : -1) * slotW * r.nextDouble(0.45, 0.9);
        MotionTiming progress = MotionTiming.random(r);
        Rectangle2D[] slots = new Rectangle2D[drawers];
        for (int i = 0; i < drawers; i++) {
            slots[i] = new Rectangle2D.Double(-w / 2 + margin, -h / 2 + margin + i * (slotH + gap), slotW, slotH);
            b.fill(cabinet, slots[i], dark, still);
        }
        for (int i = 0; i < drawers; i++) { // the moving drawer last, so it slides over the others
            int slot = (movingSlot + 1 + i) % drawers;
            boolean moves = slot == movingSlot;
            int drawer = b.part("drawer", moves);
            AffineTransform[] poses = moves
                    ? b.moving(object, f -> AffineTransform.getTranslateInstance(slide * progress.at(b.time(f)), 0))
                    : still;
            Rectangle2D s = slots[slot];
            Rectangle2D panel = new Rectangle2D.Double(s.getX() - gap / 3, s.getY() - gap / 3, slotW + 2 * gap / 3, slotH + 2 * gap / 3);
            b.outlined(drawer, panel, Palette.fill(r, front, panel), Palette.shade(front, 0.4), line, poses);
            double hw = slotW * r.nextDouble(0.15, 0.35), hh = slotH * r.nextDouble(0.12, 0.25);
            b.fill(drawer, new RoundRectangle2D.Double(s.getCenterX() - hw / 2, s.getCenterY() - hh / 2, hw, hh, hh, hh),
                    Palette.shade(front, 0.35), poses);
        }
    }
}
