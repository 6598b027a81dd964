package dev.puppetengine.train.data.synthetic;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Draws a random scene of a given kind; every random choice comes from the given generator, so a seed fixes the scene. */
public final class SceneGenerator {
    /** Objects a multi-object scene can animate (the kinds with an articulated part). */
    private static final SceneKind[] ARTICULATED = {SceneKind.DRAWER, SceneKind.HINGE, SceneKind.TAIL};

    private SceneGenerator() {}

    public static Scene generate(SceneKind kind, SplittableRandom rng, int size, int frames) {
        SceneBuilder b = new SceneBuilder(rng, size, frames);
        int[] background = Backgrounds.random(rng, size);
        if (kind == SceneKind.MULTI) multi(b);
        else object(b, kind, new Placement(size * rng.nextDouble(0.42, 0.58), size * rng.nextDouble(0.42, 0.58), size * rng.nextDouble(0.5, 0.75)), true);
        return b.build(kind, background);
    }

    /**
     * Two to four objects in distinct quadrants; the static ones are drawn first so the one or two animated
     * objects are not hidden behind them.
     */
    private static void multi(SceneBuilder b) {
        SplittableRandom r = b.rng;
        int count = 2 + r.nextInt(3);
        int animated = count > 2 && r.nextDouble() < 0.4 ? 2 : 1;
        List<Integer> cells = new ArrayList<>(List.of(0, 1, 2, 3));
        double half = b.size / 2.0;
        for (int i = 0; i < count; i++) {
            int cell = cells.remove(r.nextInt(cells.size()));
            Placement at = new Placement(half * (cell % 2 + r.nextDouble(0.4, 0.6)), half * (cell / 2 + r.nextDouble(0.4, 0.6)),
                    half * r.nextDouble(0.6, 0.85));
            boolean animate = i >= count - animated;
            if (!animate && r.nextDouble() < 0.4) Distractor.build(b, at);
            else object(b, ARTICULATED[r.nextInt(ARTICULATED.length)], at, animate);
        }
    }

    private static void object(SceneBuilder b, SceneKind kind, Placement at, boolean animate) {
        switch (kind) {
            case DRAWER -> Cabinet.build(b, at, animate);
            case HINGE -> HingedBox.build(b, at, animate);
            case TAIL -> Fish.build(b, at, animate);
            default -> throw new IllegalArgumentException(kind + " is not a single-object kind");
        }
    }
}
