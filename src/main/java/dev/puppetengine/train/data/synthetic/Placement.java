package dev.puppetengine.train.data.synthetic;

import java.awt.geom.AffineTransform;

/** Where an object goes: its centre in image pixels and the side of the square it should roughly fill. */
record Placement(double cx, double cy, double extent) {

    /** Object-to-image transform: centred, rotated by {@code angle} (radians, clockwise on screen), optionally mirrored in x. */
    AffineTransform transform(double angle, boolean mirrored) {
        AffineTransform t = AffineTransform.getTranslateInstance(cx, cy);
        t.rotate(angle);
        if (mirrored) t.scale(-1, 1);
        return t;
    }
}
