package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.FeedForward;
import dev.puppetengine.nn.LayerNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/**
 * Temporal transformer block, at each spatial position over the F frames: a residual GEGLU feed-forward
 * (ff_in), temporal self-attention, cross-attention to the frame-0 context of the video, feed-forward.
 */
public final class TemporalBasicTransformerBlock extends Module {
    private final LayerNorm normIn, norm1, norm2, norm3;
    private final FeedForward ffIn, ff;
    private final Attention attn1, attn2;

    public TemporalBasicTransformerBlock(int dim, int heads, int dimHead, int contextDim) {
        this.normIn = add("norm_in", new LayerNorm(dim, 1e-5));
        this.ffIn = add("ff_in", new FeedForward(dim));
        this.norm1 = add("norm1", new LayerNorm(dim, 1e-5));
        this.attn1 = add("attn1", new Attention(dim, dim, heads, dimHead));
        this.norm2 = add("norm2", new LayerNorm(dim, 1e-5));
        this.attn2 = add("attn2", new Attention(dim, contextDim, heads, dimHead));
        this.norm3 = add("norm3", new LayerNorm(dim, 1e-5));
        this.ff = add("ff", new FeedForward(dim));
    }

    /** y (B*HW, F, C) sequences over frames; context0 (B, Lc, Cc): query batch b*HW+p reads context b. */
    public Tensor forward(Tensor y, Tensor context0) {
        y = ffIn.forward(normIn.forward(y), y);   // residuals: in the out-projections
        y = attn1.forward(norm1.forward(y), null, y);
        y = attn2.forward(norm2.forward(y), context0, y);
        return ff.forward(norm3.forward(y), y);
    }
}
