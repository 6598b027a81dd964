package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.tensor.Tensor;

/**
 * Conv3d with kernel (3, 1, 1) and padding (1, 0, 0): a 3-tap convolution along frames at each pixel.
 * Input (B, F, H, W, Cin); weight (Cout, 3, 1, Cin) in the engine, (Cout, Cin, 3, 1, 1) in checkpoints.
 */
public final class TemporalConv extends Module {
    public final Parameter weight, bias;

    public TemporalConv(int in, int out) {
        this.weight = param("weight", Layout.CONV3D_TEMPORAL, Init.fanIn(3L * in), out, 3, 1, in);
        this.bias = param("bias", Init.fanIn(3L * in), out);
    }

    public Tensor forward(Tensor x) { return forward(x, null); }

    /** The convolution plus a residual of the output's shape (or null), added in the product's epilogue. */
    public Tensor forward(Tensor x, Tensor residual) {
        return F.temporalConv(x, weight.value(), bias.value(), residual);
    }
}
