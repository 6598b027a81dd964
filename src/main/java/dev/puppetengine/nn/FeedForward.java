package dev.puppetengine.nn;

import dev.puppetengine.tensor.Tensor;

/** diffusers FeedForward with GEGLU: net.0.proj (dim -> 2 inner), a * gelu(gate), net.2 (inner -> out). */
public final class FeedForward extends Module {
    private final Linear proj, out;

    public FeedForward(int dim, int inner, int outDim) {
        Container net = add("net", new Container());
        this.proj = net.put("0", new Container()).put("proj", new Linear(dim, 2 * inner, true));
        this.out = net.put("2", new Linear(inner, outDim, true));
    }

    public FeedForward(int dim) {
        this(dim, 4 * dim, dim);
    }

    /** out(geglu(proj(x))) + residual (or null): the gate and the residual are both GEMM epilogues. */
    public Tensor forward(Tensor x, Tensor residual) {
        return out.forward(proj.forwardGeglu(x), residual);
    }
}
