package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.Upsample2D;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.Deque;
import java.util.List;

/** Up block with cross-attention (Puppet-Master's "WithFlow" variant when the config has drags). */
public final class CrossAttnUpBlockSpatioTemporal extends CrossAttnLayers implements UNetBlock {
    private final Upsample2D upsampler;

    CrossAttnUpBlockSpatioTemporal(UNetConfig cfg, int[] resnetIn, int out, int heads, double eps, boolean upsample) {
        super(cfg, resnetIn, out, heads, eps);
        this.upsampler = upsample ? add("upsamplers", new ModuleList<Upsample2D>()).append(new Upsample2D(out)) : null;
    }

    @Override
    public Tensor forward(Tensor h, BlockInputs in, Deque<Tensor> skips) {
        for (int j = 0; j < layers(); j++) h = layer(j, F.concat(List.of(h, skips.pop()), 3), in);
        return upsampler != null ? upsampler.forward(h) : h;
    }
}
