package dev.puppetengine.model.clip;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.Init;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.Tensor;

import java.util.List;

/**
 * Patchify (conv k = stride = patch, no bias), prepend class_embedding, add the learned position table.
 * pixels (N, S, S, channels) -> tokens (N, 1 + (S/patch)^2, hidden), patches in row-major order.
 */
public final class ClipVisionEmbeddings extends Module {
    private final Parameter classEmbedding;
    private final Conv2d patchEmbedding;
    private final PositionTable positionEmbedding;

    /** nn.Embedding's single "weight", read whole: positions are always 0 .. numPositions - 1. */
    private static final class PositionTable extends Module {
        final Parameter weight;

        PositionTable(int positions, int dim) {
            this.weight = param("weight", Init.normal(0.02), positions, dim);
        }
    }

    ClipVisionEmbeddings(ClipVisionConfig cfg) {
        int d = cfg.hiddenSize();
        this.classEmbedding = param("class_embedding", Init.normal(1 / Math.sqrt(d)), d);
        this.patchEmbedding = add("patch_embedding", new Conv2d(cfg.numChannels(), d, cfg.patchSize(), ConvSpec.of(cfg.patchSize(), 0), false));
        this.positionEmbedding = add("position_embedding", new PositionTable(cfg.numPositions(), d));
    }

    Tensor forward(Tensor pixels) {
        Tensor p = patchEmbedding.forward(pixels);
        int[] s = p.shape();
        Tensor patches = F.reshape(p, s[0], s[1] * s[2], s[3]);
        Tensor cls = F.expand(F.reshape(classEmbedding.value(), 1, 1, s[3]), s[0], 1, s[3]);
        return F.add(F.concat(List.of(cls, patches), 1), positionEmbedding.weight.value());
    }
}
