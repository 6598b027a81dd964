package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.util.SplittableRandom;

/**
 * A fish (side view, facing +x before placement) whose tail is a chain of tapering segments ending in a
 * fin. When animated every joint turns towards a common side, each one starting a little later than the
 * joint before it, so the bend runs down the tail. Segment k's pose is the product of the joint rotations
 * 0..k, each about its joint's rest position (forward kinematics), so the chain never comes apart; a disc
 * over each joint covers the corners of the bent segments.
 */
final class Fish {
    private Fish() {}

    static void build(SceneBuilder b, Placement at, boolean animate) {
        SplittableRandom r = b.rng;
        double length = at.extent() * r.nextDouble(0.42, 0.52), height = length * r.nextDouble(0.35, 0.55);
        AffineTransform object = at.transform(r.nextDouble(0, 2 * Math.PI), r.nextBoolean());
        AffineTransform[] still = b.still(object);
        double shift = length * 0.5; // body forward of centre, so body and tail together sit around the placement
        Color body = Palette.color(r), tail = Palette.contrasting(r, body), dark = Palette.shade(body, 0.35);
        double line = Palette.line(at.extent());

        int bodyId = b.part("fish body", false);
        Path2D fin = new Path2D.Double();
        fin.moveTo(shift - length * 0.15, -height * 0.35);
        fin.lineTo(shift + length * 0.05, -height * 0.8);
        fin.lineTo(shift + length * 0.2, -height * 0.3);
        fin.closePath();
        b.outlined(bodyId, fin, Palette.shade(body, 0.7), dark, line, still);
        Ellipse2D bodyShape = new Ellipse2D.Double(shift - length / 2, -height / 2, length, height);
        b.outlined(bodyId, bodyShape, Palette.fill(r, body, bodyShape.getBounds2D()), dark, line, still);
        double eye = height * 0.2;
        b.fill(bodyId, new Ellipse2D.Double(shift + length * 0.28 - eye / 2, -height * 0.12 - eye / 2, eye, eye), Color.WHITE, still);
        b.fill(bodyId, new Ellipse2D.Double(shift + length * 0.3 - eye / 4, -height * 0.12 - eye / 4, eye / 2, eye / 2), Color.BLACK, still);

        int segments = 3 + r.nextInt(3);
        double rootX = shift - length * 0.45, segLen = length * r.nextDouble(0.6, 0.9) / segments;
        double rootWidth = height * r.nextDouble(0.3, 0.42);
        double bend = (r.nextBoolean() ? 1 : -1) * Math.toRadians(r.nextDouble(50, 110)) / segments;
        double lag = r.nextDouble(0, 0.6 / segments);
        MotionTiming progress = MotionTiming.random(r);
        int tailId = b.part("tail", animate);
        AffineTransform[] chain = still;
        for (int k = 0; k < segments; k++) {
            double jointX = rootX - k * segLen;
            double w0 = rootWidth * (1 - 0.55 * k / segments), w1 = rootWidth * (1 - 0.55 * (k + 1) / segments);
            if (animate) {
                AffineTransform[] parent = chain;
                double delay = k * lag;
                chain = b.poses(f -> {
                    double t = Math.max(0, (b.time(f) - delay) / (1 - delay));
                    AffineTransform m = new AffineTransform(parent[f]);
                    m.rotate(bend * progress.at(t), jointX, 0);
                    return m;
                });
            }
            Path2D seg = new Path2D.Double();
            seg.moveTo(jointX, -w0 / 2);
            seg.lineTo(jointX - segLen, -w1 / 2);
            seg.lineTo(jointX - segLen, w1 / 2);
            seg.lineTo(jointX, w0 / 2);
            seg.closePath();
            b.fill(tailId, seg, Palette.fill(r, tail, seg.getBounds2D()), chain);
            b.fill(tailId, new Ellipse2D.Double(jointX - w0 / 2, -w0 / 2, w0, w0), tail, chain);
        }
        double endX = rootX - segments * segLen, finLen = length * r.nextDouble(0.2, 0.35), finH = height * r.nextDouble(0.3, 0.5);
        Path2D caudal = new Path2D.Double();
        caudal.moveTo(endX + segLen * 0.3, 0);
        caudal.lineTo(endX - finLen, -finH);
        caudal.lineTo(endX - finLen * 0.6, 0);
        caudal.lineTo(endX - finLen, finH);
        caudal.closePath();
        b.outlined(tailId, caudal, Palette.fill(r, Palette.shade(tail, 0.8), new Rectangle2D.Double(endX - finLen, -finH, finLen, 2 * finH)),
                Palette.shade(tail, 0.4), line, chain);
    }
}
