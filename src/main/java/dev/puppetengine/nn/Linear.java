package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

/** y = x W^T + b; weight (out, in). */
public final class Linear extends Module {
    public final Parameter weight, bias;

    public Linear(int in, int out, boolean bias) {
        this.weight = param("weight", Init.fanIn(in), out, in);
        this.bias = bias ? param("bias", Init.fanIn(in), out) : null;
    }

    public Tensor forward(Tensor x) { return forward(x, null); }

    /** x W^T + b + residual, the residual (the output's shape, or null) added in the product's epilogue. */
    public Tensor forward(Tensor x, Tensor residual) {
        return F.linear(x, weight.value(), bias == null ? null : bias.value(), residual);
    }

    /** geglu(forward(x)) for a projection to values then gates, fused where no gradient is recorded. */
    public Tensor forwardGeglu(Tensor x) {
        return F.linearGeglu(x, weight.value(), bias == null ? null : bias.value());
    }
}
