package dev.puppetengine.model.clip;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

/**
 * SVD's image encoder (transformers CLIPVisionModelWithProjection): the vision tower and visual_projection
 * (no bias). Parameter names equal the transformers state dict (vision_model.*, visual_projection.weight);
 * the position_ids buffer is not a parameter and is not modelled.
 */
public final class ClipVisionModelWithProjection extends Module {
    private final ClipVisionConfig cfg;
    private final ClipVisionTransformer visionModel;
    private final Linear visualProjection;

    public ClipVisionModelWithProjection(ClipVisionConfig cfg) {
        this.cfg = cfg;
        this.visionModel = add("vision_model", new ClipVisionTransformer(cfg));
        this.visualProjection = add("visual_projection", new Linear(cfg.hiddenSize(), cfg.projectionDim(), false));
    }

    public ClipVisionConfig config() { return cfg; }

    /**
     * pixels (N, S, S, channels), S = image_size, already resized and normalised with CLIP's mean/std ->
     * image_embeds (N, projection_dim), not L2-normalised. Cast to the weights' dtype; returned in it.
     */
    public Tensor embed(Tensor pixels) { return embed(pixels, false); }

    /** As {@link #embed(Tensor)}; {@code checkpoint}: recompute each encoder layer in backward (training, less memory). */
    public Tensor embed(Tensor pixels, boolean checkpoint) {
        int[] s = pixels.shape();
        int size = cfg.imageSize();
        if (s.length != 4 || s[1] != size || s[2] != size || s[3] != cfg.numChannels())
            throw new IllegalArgumentException("CLIP embed: pixels must be (N, " + size + ", " + size + ", " + cfg.numChannels() + "), got " + Shape.str(s));
        DType dt = visualProjection.weight.value().dtype();
        try (Scope scope = Scope.open()) {
            Tensor x = F.to(pixels, dt);
            return Scope.escape(visualProjection.forward(visionModel.forward(x, checkpoint)));
        }
    }
}
