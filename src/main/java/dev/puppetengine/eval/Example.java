package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.Conditioning;
import dev.puppetengine.pipeline.DragPath;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One input of a batch: the conditioning image, its drags (normalised to the image's centred square), for evaluation
 * the ground-truth frames at their stored size (empty when there are none), and the conditioning precomputed with it
 * (DragAMove's cond_latent and embedding; null when there is none), and the SHA-256 of the files it was read from
 * ({@link ExampleSource#files}; empty when the source has none).
 */
public record Example(String name, RgbImage image, List<DragPath> drags, List<RgbImage> groundTruth, Conditioning precomputed,
                      Map<String, String> files) {
    public Example {
        drags = List.copyOf(drags);
        groundTruth = List.copyOf(groundTruth);
        files = Collections.unmodifiableMap(new LinkedHashMap<>(files));   // in the source's order, which the report keeps
    }

    public Example(String name, RgbImage image, List<DragPath> drags, List<RgbImage> groundTruth) {
        this(name, image, drags, groundTruth, null, Map.of());
    }
}
