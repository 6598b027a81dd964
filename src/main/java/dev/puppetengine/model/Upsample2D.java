package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** Nearest-neighbour x2 then a 3x3 conv ("conv"). */
public final class Upsample2D extends Module {
    private final Conv2d conv;

    public Upsample2D(int channels) {
        this.conv = add("conv", Conv2d.same(channels, channels, 3));
    }

    public Tensor forward(Tensor x) { return conv.forward(F.upsampleNearest2x(x)); }
}
