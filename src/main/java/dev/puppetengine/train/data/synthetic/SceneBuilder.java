package dev.puppetengine.train.data.synthetic;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Paint;
import java.awt.Shape;
import java.awt.geom.AffineTransform;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/** Collects the parts and pieces of a scene in drawing order; object builders draw their random choices from {@link #rng}. */
final class SceneBuilder {
    final SplittableRandom rng;
    final int size;
    final int frames;
    private final List<Piece> pieces = new ArrayList<>();
    private final List<Part> parts = new ArrayList<>();

    SceneBuilder(SplittableRandom rng, int size, int frames) {
        this.rng = rng;
        this.size = size;
        this.frames = frames;
    }

    /** Declares a part and returns its id. */
    int part(String name, boolean moving) {
        int id = parts.size() + 1;
        if (id > 255) throw new IllegalStateException("more than 255 parts in one scene");
        parts.add(new Part(id, name, moving));
        return id;
    }

    /** A filled piece that drag points may sit on. */
    void fill(int part, Shape shape, Paint paint, AffineTransform[] poses) {
        pieces.add(new Piece(shape, paint, part, true, poses));
    }

    /** A filled piece with an outline of {@code width} local units drawn over its edge (the outline carries no drags). */
    void outlined(int part, Shape shape, Paint paint, Color line, double width, AffineTransform[] poses) {
        fill(part, shape, paint, poses);
        Shape stroke = new BasicStroke((float) width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER).createStrokedShape(shape);
        pieces.add(new Piece(stroke, line, part, false, poses));
    }

    /** The same pose in every frame. */
    AffineTransform[] still(AffineTransform pose) {
        AffineTransform[] out = new AffineTransform[frames];
        Arrays.fill(out, pose);
        return out;
    }

    /** Per-frame poses {@code object * motion(f)}: a motion in the object's local coordinates. */
    AffineTransform[] moving(AffineTransform object, IntFunction<AffineTransform> motion) {
        return poses(f -> {
            AffineTransform t = new AffineTransform(object);
            t.concatenate(motion.apply(f));
            return t;
        });
    }

    AffineTransform[] poses(IntFunction<AffineTransform> pose) {
        AffineTransform[] out = new AffineTransform[frames];
        for (int f = 0; f < frames; f++) out[f] = pose.apply(f);
        return out;
    }

    /** Normalised time of frame f: 0 at the first frame, 1 at the last. */
    double time(int f) {
        return f / (frames - 1.0);
    }

    Scene build(SceneKind kind, int[] background) {
        return new Scene(kind, size, frames, background, pieces, parts);
    }
}
