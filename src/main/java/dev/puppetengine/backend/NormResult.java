package dev.puppetengine.backend;

import dev.puppetengine.tensor.Tensor;

/** A normalisation's output and the per-row statistics its backward reuses (F32). */
public record NormResult(Tensor y, Tensor mean, Tensor rstd) {
}
