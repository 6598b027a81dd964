package dev.puppetengine.model.clip;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** Multi-head self-attention with transformers' CLIP names (q/k/v/out_proj, all with bias); scale head_dim^-0.5. */
public final class ClipAttention extends Module {
    private final Linear kProj, vProj, qProj, outProj;
    private final int heads;
    private final double scale;

    ClipAttention(int dim, int heads) {
        this.heads = heads;
        this.scale = 1 / Math.sqrt(dim / heads);
        this.kProj = add("k_proj", new Linear(dim, dim, true));
        this.vProj = add("v_proj", new Linear(dim, dim, true));
        this.qProj = add("q_proj", new Linear(dim, dim, true));
        this.outProj = add("out_proj", new Linear(dim, dim, true));
    }

    /** Self-attention of x (N, L, dim) -> (N, L, dim), plus the residual (x's shape, or null) in out_proj's epilogue. */
    Tensor forward(Tensor x, Tensor residual) {
        return outProj.forward(F.attention(qProj.forward(x), kProj.forward(x), vProj.forward(x), heads, scale), residual);
    }
}
