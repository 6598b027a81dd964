package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

/** y = x W^T + b; weight (out, in). */
public final class Linear extends Module {
    public final Parameter weight, bias;
    public final int in, out;

    public Linear(int in, int out, boolean bias) {
        this.in = in;
        this.out = out;
        this.weight = param("weight", Init.fanIn(in), out, in);
        this.bias = bias ? param("bias", Init.fanIn(in), out) : null;
    }

    public Tensor forward(Tensor x) {
        return F.linear(x, weight.value(), bias == null ? null : bias.value());
    }
}
