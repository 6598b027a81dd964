package dev.puppetengine.train;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;

import java.io.IOException;

/** Prepared training clips: latents already encoded, CLIP embeddings computed (spec 4.6). */
public interface TrainingData {
    int size();

    /**
     * A batch of the given clips on {@code backend} for a UNet computing in {@code dtype}, in the dtypes
     * {@link EdmLoss.Batch} gives: latents (B, F, h, w, 4) scaled by the VAE factor; cond latent (B, h, w, 4)
     * unscaled; embedding (B, 1, X); drags (B, F, K, 4). What is drawn at random (spec 4.5, 4.6) is a function of
     * (seed, microStep, position in the batch). Tensors belong to the current scope.
     */
    EdmLoss.Batch batch(int[] clips, long seed, long microStep, Backend backend, DType dtype) throws IOException;
}
