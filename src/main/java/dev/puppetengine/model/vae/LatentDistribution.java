package dev.puppetengine.model.vae;

import dev.puppetengine.tensor.Tensor;

/** The encoder's diagonal Gaussian posterior, unscaled: mean and log-variance (clamped to [-30, 20]), each (N, h, w, latent). */
public record LatentDistribution(Tensor mean, Tensor logvar) {}
