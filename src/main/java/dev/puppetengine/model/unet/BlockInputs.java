package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.drag.DragConditioning;
import dev.puppetengine.tensor.Tensor;

import java.util.function.Function;

/**
 * What every UNet block needs besides its hidden state, for one forward: the per-frame time embedding
 * (B*F, T), the per-frame CLIP context (B*F, L, X), the frame count, the drag conditioning (null for SVD)
 * and whether to checkpoint each resnet / transformer / drag embedder (recompute in backward).
 */
record BlockInputs(Tensor temb, Tensor context, int frames, DragConditioning drags, boolean checkpoint) {

    Tensor run(Function<Tensor[], Tensor> fn, Tensor... inputs) {
        return checkpoint ? F.checkpoint(fn, inputs) : fn.apply(inputs);
    }
}
