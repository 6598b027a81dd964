package dev.puppetengine.train.data.synthetic;

import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The generator's settings: each bound accepted at its edge and refused one step past it, with the message the dataset command shows. */
class GeneratorConfigTest {
    private static Map<SceneKind, Double> weights(double drawer, double hinge, double tail, double multi) {
        Map<SceneKind, Double> w = new EnumMap<>(SceneKind.class);
        w.put(SceneKind.DRAWER, drawer);
        w.put(SceneKind.HINGE, hinge);
        w.put(SceneKind.TAIL, tail);
        w.put(SceneKind.MULTI, multi);
        return w;
    }

    private static GeneratorConfig config(int size, int frames, int candidates, double staticP, double valFraction) {
        return new GeneratorConfig(size, frames, candidates, staticP, valFraction, weights(1, 1, 1, 1));
    }

    @Test
    void eachSettingIsAcceptedUpToItsBoundAndRefusedPastIt() {
        config(32, 2, 1, 0, 0);
        config(4096, 2, 1, 1, 1);
        assertRefused("image size 31 px: at least 32 needed to keep drag points inside parts", () -> config(31, 14, 8, 0.1, 0.1));
        assertRefused("image size 4097 px: at most 4096 (the model works at 256; frames are whole images in memory)", () -> config(4097, 14, 8, 0.1, 0.1));
        assertRefused("frames 1: a clip needs at least 2", () -> config(64, 1, 8, 0.1, 0.1));
        assertRefused("candidates 0: at least 1 tracked point is needed", () -> config(64, 14, 0, 0.1, 0.1));
        for (double p : new double[] {-0.01, 1.01, Double.NaN}) {
            assertRefused("static drag probability " + p + " is not in [0, 1]", () -> config(64, 14, 8, p, 0.1));
            assertRefused("validation fraction " + p + " is not in [0, 1]", () -> config(64, 14, 8, 0.1, p));
        }
    }

    @Test
    void kindWeightsMustBeFiniteNonNegativeAndSelectAKind() {
        for (double w : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY})
            assertRefused("weight " + w + " of scene kind hinge", () -> GeneratorConfig.defaults(64, 14).withKindWeights(weights(1, w, 1, 1)));
        assertRefused("scene kind weights {DRAWER=0.0} select no kind",
                () -> GeneratorConfig.defaults(64, 14).withKindWeights(Map.of(SceneKind.DRAWER, 0.0)));
        // a kind left out weighs 0
        assertEquals(weights(0, 2, 0, 0), GeneratorConfig.defaults(64, 14).withKindWeights(Map.of(SceneKind.HINGE, 2.0)).kindWeights());
    }

    /** What dataset.json records to refuse continuing a dataset under other settings: every one that shapes the clips. */
    @Test
    void theClipParametersNameEverySettingThatShapesTheClips() {
        GeneratorConfig cfg = new GeneratorConfig(64, 14, 6, 0.25, 0.1, weights(1, 0, 2.5, 0));
        assertEquals("{\"candidates\":6,\"static_drag_probability\":0.25,\"kind_weights\":{\"drawer\":1.0,\"hinge\":0.0,\"tail\":2.5,\"multi\":0.0}}",
                cfg.clipParameters().toString());
    }

    /** Kinds come as often as their weights say, and a kind of weight 0 never. */
    @Test
    void kindsArePickedInProportionToTheirWeights() {
        GeneratorConfig cfg = GeneratorConfig.defaults(64, 14).withKindWeights(weights(1, 0, 3, 0));
        SplittableRandom rng = new SplittableRandom(8);
        Map<SceneKind, Integer> seen = new EnumMap<>(SceneKind.class);
        int n = 8000;
        for (int i = 0; i < n; i++) seen.merge(cfg.pickKind(rng), 1, Integer::sum);
        assertEquals(EnumSet.of(SceneKind.DRAWER, SceneKind.TAIL), seen.keySet());
        assertEquals(0.25, seen.get(SceneKind.DRAWER) / (double) n, 0.02);
    }
}
