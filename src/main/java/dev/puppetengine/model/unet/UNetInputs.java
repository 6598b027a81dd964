package dev.puppetengine.model.unet;

import dev.puppetengine.tensor.Tensor;

/**
 * One UNet call (channels-last). sample (B, F, H, W, 4): the (scaled) noisy latents; timestep (B): c_noise;
 * imageLatents (B, H, W, 4): the conditioning frame's latent, concatenated to every frame inside the UNet;
 * context (B, L, X): the CLIP image token(s); drags (B, F, K, 4) or null (= no drags); addedTimeIds (B, 3):
 * SVD's [fps-1, motion_bucket_id, noise_aug], used only by configs with add_embedding (else may be null).
 */
public record UNetInputs(Tensor sample, Tensor timestep, Tensor imageLatents, Tensor context, Tensor drags, Tensor addedTimeIds) {
}
