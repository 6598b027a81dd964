package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

public final class LayerNorm extends Module {
    public final Parameter weight, bias;
    public final double eps;

    public LayerNorm(int dim, double eps) {
        this.eps = eps;
        this.weight = param("weight", Init.ones(), dim);
        this.bias = param("bias", Init.zeros(), dim);
    }

    public Tensor forward(Tensor x) { return F.layerNorm(x, weight.value(), bias.value(), eps); }
}
