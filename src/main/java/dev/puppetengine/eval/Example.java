package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;

import java.util.List;

/**
 * One input of a batch: the conditioning image, its drags (normalised to the image's centred square) and,
 * for evaluation, the ground-truth frames at their stored size (empty when there are none).
 */
public record Example(String name, RgbImage image, List<DragPath> drags, List<RgbImage> groundTruth) {
    public Example {
        drags = List.copyOf(drags);
        groundTruth = List.copyOf(groundTruth);
    }
}
