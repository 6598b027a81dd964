package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.Tensor;

/** 2-D convolution on channels-last input (N, H, W, Cin); weight (Cout, kh, kw, Cin). */
public final class Conv2d extends Module {
    public final Parameter weight, bias;
    public final ConvSpec spec;

    public Conv2d(int in, int out, int kernel, ConvSpec spec, boolean bias) {
        this(in, out, kernel, spec, bias, false);
    }

    /** {@code zeroInit}: weight and bias start at 0 (output convs that must begin as a no-op). */
    public Conv2d(int in, int out, int kernel, ConvSpec spec, boolean bias, boolean zeroInit) {
        this.spec = spec;
        long fanIn = (long) in * kernel * kernel;
        Init init = zeroInit ? Init.zeros() : Init.fanIn(fanIn);
        this.weight = param("weight", Layout.CONV2D, init, out, kernel, kernel, in);
        this.bias = bias ? param("bias", init, out) : null;
    }

    /** k x k, stride 1, "same" zero padding (k odd). */
    public static Conv2d same(int in, int out, int kernel) {
        return new Conv2d(in, out, kernel, ConvSpec.of(1, kernel / 2), true);
    }

    public Tensor forward(Tensor x) { return forward(x, null); }

    /** The convolution plus a residual of the output's shape (or null), added in the product's epilogue. */
    public Tensor forward(Tensor x, Tensor residual) {
        return F.conv2d(x, weight.value(), bias == null ? null : bias.value(), residual, spec);
    }
}
