package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

/**
 * Multi-head attention with diffusers' parameter names (to_q, to_k, to_v, to_out.0 and, for the VAE's
 * single-head attention, group_norm). Heads are contiguous slices of the channel dim; scale 1/sqrt(dimHead).
 * Keys and values come from {@code context} (its batch may divide the query batch: see F.attention), or
 * from x itself when context is null.
 */
public final class Attention extends Module {
    public final Linear toQ, toK, toV, toOut;
    public final GroupNorm groupNorm;
    public final int heads, dimHead;

    public Attention(int queryDim, int contextDim, int heads, int dimHead, boolean qkvBias, int normGroups, double normEps) {
        this.heads = heads;
        this.dimHead = dimHead;
        int inner = heads * dimHead;
        this.groupNorm = normGroups > 0 ? add("group_norm", new GroupNorm(normGroups, queryDim, normEps)) : null;
        this.toQ = add("to_q", new Linear(queryDim, inner, qkvBias));
        this.toK = add("to_k", new Linear(contextDim, inner, qkvBias));
        this.toV = add("to_v", new Linear(contextDim, inner, qkvBias));
        ModuleList<Linear> out = add("to_out", new ModuleList<>());
        this.toOut = out.append(new Linear(inner, queryDim, true));
    }

    /** Transformer attention: no bias on q/k/v, no norm. */
    public Attention(int queryDim, int contextDim, int heads, int dimHead) {
        this(queryDim, contextDim, heads, dimHead, false, 0, 0);
    }

    /** x (Bq, L, C), context (Bk, Lk, Ckv) or null -> (Bq, L, C), + residual (the output's shape, or null), added in to_out's epilogue. */
    public Tensor forward(Tensor x, Tensor context, Tensor residual) {
        Tensor kv = context == null ? x : context;
        Tensor q = toQ.forward(x), k = toK.forward(kv), v = toV.forward(kv);
        return toOut.forward(F.attention(q, k, v, heads, 1 / Math.sqrt(dimHead)), residual);
    }

    /** The VAE's attention block: x (N, H, W, C) -> x + self-attention over the H*W tokens of group_norm(x). */
    public Tensor forwardImage(Tensor x) {
        if (groupNorm == null) throw new IllegalStateException("forwardImage needs an attention built with group_norm");
        int[] s = x.shape();
        Tensor tokens = F.reshape(groupNorm.forward(x), s[0], s[1] * s[2], s[3]);
        return F.reshape(forward(tokens, null, F.reshape(x, s[0], s[1] * s[2], s[3])), s);
    }
}
