package dev.puppetengine.train.data.synthetic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.train.data.DatasetManifest;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Settings of the synthetic clip generator.
 *
 * @param size                  image side in pixels (frames are square), 32 to 4096
 * @param frames                frames per clip, at least 2 (the model uses 14)
 * @param candidates            points tracked on the moving parts per clip, before the drag selection rules
 * @param staticDragProbability chance that a clip's drags also hold one point of a static part
 *                              (a drag that does not move: "keep this still"); the reference data has none
 * @param valFraction           share of clips (the last ones by index) set aside for validation
 * @param kindWeights           relative frequency of each scene kind
 */
public record GeneratorConfig(int size, int frames, int candidates, double staticDragProbability, double valFraction,
                              Map<SceneKind, Double> kindWeights) {
    public static final int DEFAULT_CANDIDATES = 8;
    public static final double DEFAULT_STATIC_DRAG_PROBABILITY = 0.1;
    public static final double DEFAULT_VAL_FRACTION = 0.1;

    public GeneratorConfig {
        if (size < 32) throw new IllegalArgumentException("image size " + size + " px: at least 32 needed to keep drag points inside parts");
        if (size > 4096) throw new IllegalArgumentException("image size " + size + " px: at most 4096 (the model works at 256; frames are whole images in memory)");
        if (frames < 2) throw new IllegalArgumentException("frames " + frames + ": a clip needs at least 2");
        if (!DatasetManifest.clipFits(frames, size, size))   // else written, then refused by every reader of the dataset
            throw new IllegalArgumentException(frames + " frames of " + size + "x" + size + ": clips of more than " + DatasetManifest.MAX_CLIP_BYTES
                    + " RGB bytes, the most one clip may hold");
        if (candidates < 1) throw new IllegalArgumentException("candidates " + candidates + ": at least 1 tracked point is needed");
        if (!(staticDragProbability >= 0 && staticDragProbability <= 1))
            throw new IllegalArgumentException("static drag probability " + staticDragProbability + " is not in [0, 1]");
        if (!(valFraction >= 0 && valFraction <= 1)) throw new IllegalArgumentException("validation fraction " + valFraction + " is not in [0, 1]");
        EnumMap<SceneKind, Double> weights = new EnumMap<>(SceneKind.class);
        for (SceneKind k : SceneKind.values()) {
            double w = kindWeights.getOrDefault(k, 0.0);
            if (!(w >= 0 && Double.isFinite(w))) throw new IllegalArgumentException("weight " + w + " of scene kind " + k.id());
            weights.put(k, w);
        }
        if (weights.values().stream().mapToDouble(Double::doubleValue).sum() <= 0)
            throw new IllegalArgumentException("scene kind weights " + kindWeights + " select no kind");
        kindWeights = Collections.unmodifiableMap(weights);
    }

    /** Defaults: 8 candidates, static drags in 10% of clips, last 10% for validation, all kinds equally often. */
    public static GeneratorConfig defaults(int size, int frames) {
        EnumMap<SceneKind, Double> weights = new EnumMap<>(SceneKind.class);
        for (SceneKind k : SceneKind.values()) weights.put(k, 1.0);
        return new GeneratorConfig(size, frames, DEFAULT_CANDIDATES, DEFAULT_STATIC_DRAG_PROBABILITY, DEFAULT_VAL_FRACTION, weights);
    }

    public GeneratorConfig withKindWeights(Map<SceneKind, Double> weights) {
        return new GeneratorConfig(size, frames, candidates, staticDragProbability, valFraction, weights);
    }

    public GeneratorConfig withStaticDragProbability(double p) {
        return new GeneratorConfig(size, frames, candidates, p, valFraction, kindWeights);
    }

    SceneKind pickKind(SplittableRandom rng) {
        double total = kindWeights.values().stream().mapToDouble(Double::doubleValue).sum(), x = rng.nextDouble() * total;
        SceneKind last = null;
        for (Map.Entry<SceneKind, Double> e : kindWeights.entrySet()) {
            if (e.getValue() == 0) continue;
            last = e.getKey();
            x -= e.getValue();
            if (x < 0) return last;
        }
        return last;
    }

    /** The settings that shape the clips (size, frames and the split are recorded elsewhere in dataset.json). */
    JsonNode clipParameters() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("candidates", candidates);
        o.put("static_drag_probability", staticDragProbability);
        ObjectNode w = o.putObject("kind_weights");
        kindWeights.forEach((k, v) -> w.put(k.id(), v));
        return o;
    }
}
