package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

/** GroupNorm with affine weights; statistics over every dim between the first and the channel dim. */
public final class GroupNorm extends Module {
    public final Parameter weight, bias;
    public final int groups;
    public final double eps;

    public GroupNorm(int groups, int channels, double eps) {
        if (channels % groups != 0) throw new IllegalArgumentException(channels + " channels not divisible into " + groups + " groups");
        this.groups = groups;
        this.eps = eps;
        this.weight = param("weight", Init.ones(), channels);
        this.bias = param("bias", Init.zeros(), channels);
    }

    public Tensor forward(Tensor x) { return F.groupNorm(x, weight.value(), bias.value(), groups, eps, false); }

    /** GroupNorm followed by SiLU, fused. */
    public Tensor forwardSilu(Tensor x) { return F.groupNorm(x, weight.value(), bias.value(), groups, eps, true); }
}
