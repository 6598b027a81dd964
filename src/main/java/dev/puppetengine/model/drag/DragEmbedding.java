package dev.puppetengine.model.drag;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/**
 * Drag raster -> (gamma, beta) for FiLM (spec 3.4): conv_in, then per step of the channel list a conv
 * keeping channels and one changing them (blocks.*), SiLU after each, and conv_out to 2C (zero-initialised by
 * Puppet-Master's zero_init, so a fresh drag layer is an identity). All 3x3, stride 1, padding 1.
 */
public final class DragEmbedding extends Module {
    private final Conv2d convIn, convOut;
    private final ModuleList<Conv2d> blocks;

    public DragEmbedding(int rasterChannels, int[] hidden, int outChannels) {
        this.convIn = add("conv_in", Conv2d.same(rasterChannels, hidden[0], 3));
        this.blocks = add("blocks", new ModuleList<>());
        for (int i = 0; i + 1 < hidden.length; i++) {
            blocks.append(Conv2d.same(hidden[i], hidden[i], 3));
            blocks.append(Conv2d.same(hidden[i], hidden[i + 1], 3));
        }
        this.convOut = add("conv_out", new Conv2d(hidden[hidden.length - 1], outChannels, 3, ConvSpec.of(1, 1), true, true));
    }

    /** raster (N, r, r, 6K) -> (N, r, r, 2C). */
    public Tensor forward(Tensor raster) {
        Tensor e = F.silu(convIn.forward(raster));
        for (Conv2d c : blocks.items()) e = F.silu(c.forward(e));
        return convOut.forward(e);
    }
}
