package dev.puppetengine.model;

import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** Stride-2 3x3 conv ("conv"). The UNet pads 1 on every side; the VAE encoder pads only right and bottom. */
public final class Downsample2D extends Module {
    private final Conv2d conv;

    private Downsample2D(int channels, ConvSpec spec) {
        this.conv = add("conv", new Conv2d(channels, channels, 3, spec, true));
    }

    public static Downsample2D symmetric(int channels) {
        return new Downsample2D(channels, ConvSpec.of(2, 1));
    }

    public static Downsample2D rightBottomPadded(int channels) {
        return new Downsample2D(channels, new ConvSpec(2, 2, 0, 1, 0, 1));
    }

    public Tensor forward(Tensor x) { return conv.forward(x); }
}
