package dev.puppetengine.backend;

import dev.puppetengine.tensor.Tensor;

/** Attention output (Bq, Lq, C) and log-sum-exp of the scaled logits (Bq, heads, Lq), F32. */
public record AttentionResult(Tensor out, Tensor lse) {
}
