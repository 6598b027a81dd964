package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.drag.DragConditioning;
import dev.puppetengine.tensor.Tensor;

import java.util.function.Function;

/**
 * What every UNet block needs besides its hidden state, for one forward: SiLU of the per-frame time
 * embedding (B*F, T), which every resblock projects, the per-frame CLIP context (B*F, L, X), the frame count, the drag conditioning (null for SVD)
 * whether to checkpoint each resnet / transformer / drag embedder (recompute in backward), and whether drag
 * tokens sample detached features (see UNetOptions).
 */
record BlockInputs(Tensor siluTemb, Tensor context, int frames, DragConditioning drags, boolean checkpoint, boolean detachDragFeatures) {

    /**
     * Runs one block. Its intermediates live in their own scope, so they are freed when it returns except
     * what autograd saved for backward (or, checkpointed, nothing: backward recomputes them).
     */
    Tensor run(Function<Tensor[], Tensor> fn, Tensor... inputs) {
        return F.block(checkpoint, fn, inputs);
    }
}
