package dev.puppetengine.train.data.synthetic;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.train.data.ClipDrags;
import dev.puppetengine.train.data.DragSelection;

import java.util.List;
import java.util.SplittableRandom;

/**
 * One generated clip: the scene, its rendered frames (F, S, S, 3) uint8, the tracked candidate points and
 * the drags chosen from them by the reference rules (tracks in pixels, see {@link ClipDrags}).
 */
public record SyntheticClip(int index, Scene scene, byte[] rgb, List<double[]> candidates, List<double[]> staticCandidates,
                            List<double[]> drags) {
    /** Scenes where no point of a moving part stays visible are redrawn; this many tries means a bug. */
    private static final int SCENE_ATTEMPTS = 100;

    /**
     * Generates clip {@code index} of the dataset with seed {@code datasetSeed}. Depends only on
     * (datasetSeed, index, config), never on which other clips were generated before.
     */
    public static SyntheticClip generate(long datasetSeed, int index, GeneratorConfig config) {
        SplittableRandom rng = new SplittableRandom(clipSeed(datasetSeed, index));
        SceneKind kind = config.pickKind(rng);
        SplittableRandom sceneRng = rng.split(), dragRng = rng.split();
        for (int attempt = 0; attempt < SCENE_ATTEMPTS; attempt++) {
            Scene scene = SceneGenerator.generate(kind, sceneRng, config.size(), config.frames());
            List<double[]> moving = DragSampler.sample(scene, scene.movingParts(), config.candidates(), dragRng);
            if (moving.isEmpty()) continue;
            List<Part> still = scene.parts().stream().filter(p -> !p.moving()).toList();
            List<double[]> statics = DragSampler.sample(scene, still, 1, dragRng);
            List<double[]> drags = DragSelection.choose(moving, statics, config.staticDragProbability(), config.size(), dragRng);
            return new SyntheticClip(index, scene, SceneRenderer.render(scene), moving, statics, drags);
        }
        throw new IllegalStateException("clip " + index + " (seed " + datasetSeed + "): no " + kind.id() + " scene with a visible moving part in "
                + SCENE_ATTEMPTS + " tries at " + config.size() + " px");
    }

    /** Per-clip seed: a strong mix of (dataset seed, index), so neighbouring clips get unrelated streams. */
    static long clipSeed(long datasetSeed, int index) {
        return mix(mix(datasetSeed) ^ (index + 0x9E3779B97F4A7C15L));
    }

    private static long mix(long z) { // MurmurHash3 finaliser
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }

    /** The (F, 5, 4) drag tensor (spec 3.2), row-major. */
    public float[] dragTensor() {
        return clipDrags().tensor();
    }

    /** The drags as stored in drags.json, with the scene kind and parts as notes. */
    public ClipDrags clipDrags() {
        ObjectNode info = JsonNodeFactory.instance.objectNode();
        info.put("kind", scene.kind().id());
        var parts = info.putArray("parts");
        for (Part p : scene.parts()) parts.addObject().put("id", p.id()).put("name", p.name()).put("moving", p.moving());
        return new ClipDrags(scene.size(), scene.size(), scene.frames(), drags, candidates, staticCandidates, info);
    }
}
