package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.FeedForward;
import dev.puppetengine.nn.LayerNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/**
 * Spatial transformer block, per frame over its H*W tokens: self-attention, cross-attention to the
 * context, GEGLU feed-forward, each pre-LayerNorm and residual. In Puppet-Master the self-attention is
 * all-to-first: every frame's queries attend to the keys/values of frame 0 of the same video only; K and V
 * are projected from frame 0's tokens alone and shared by all frames (never replicated).
 */
public final class BasicTransformerBlock extends Module {
    private final LayerNorm norm1, norm2, norm3;
    private final Attention attn1, attn2;
    private final FeedForward ff;
    private final boolean allToFirst;

    public BasicTransformerBlock(int dim, int heads, int dimHead, int contextDim, boolean allToFirst) {
        this.norm1 = add("norm1", new LayerNorm(dim, 1e-5));
        this.attn1 = add("attn1", new Attention(dim, dim, heads, dimHead));
        this.norm2 = add("norm2", new LayerNorm(dim, 1e-5));
        this.attn2 = add("attn2", new Attention(dim, contextDim, heads, dimHead));
        this.norm3 = add("norm3", new LayerNorm(dim, 1e-5));
        this.ff = add("ff", new FeedForward(dim));
        this.allToFirst = allToFirst;
    }

    /** x (B*F, L, C) tokens, context (B*F, Lc, Cc). */
    public Tensor forward(Tensor x, Tensor context, int frames) {
        Tensor n1 = norm1.forward(x);
        x = attn1.forward(n1, allToFirst ? firstFrame(n1, frames) : null, x);   // residuals: in the out-projections
        x = attn2.forward(norm2.forward(x), context, x);
        return ff.forward(norm3.forward(x), x);
    }

    /** Frame 0 of each video: (B*F, L, C) -> (B, L, C), a view. */
    static Tensor firstFrame(Tensor x, int frames) {
        int[] s = x.shape();
        Tensor v = F.narrow(F.reshape(x, s[0] / frames, frames, s[1], s[2]), 1, 0, 1);
        return F.reshape(v, s[0] / frames, s[1], s[2]);
    }
}
