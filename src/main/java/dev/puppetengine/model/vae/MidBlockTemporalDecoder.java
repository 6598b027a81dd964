package dev.puppetengine.model.vae;

import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/**
 * The decoder's middle: video resnet, single-head spatial self-attention (per frame), video resnet.
 * Like diffusers it builds layers_per_block resnets but one attention and runs resnets 0 and 1 only, so
 * with layers_per_block != 2 the key set still matches (SVD uses 2, where every weight is used).
 */
public final class MidBlockTemporalDecoder extends Module {
    private final ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
    private final Attention attn;

    MidBlockTemporalDecoder(int channels, int layers, int groups) {
        for (int i = 0; i < layers; i++) resnets.append(SpatioTemporalResBlock.vaeDecoder(channels, channels, groups));
        this.attn = add("attentions", new ModuleList<Attention>()).append(UNetMidBlock2D.vaeAttention(channels, groups));
    }

    Tensor forward(Tensor h, int frames) {
        h = resnets.get(0).forward(h, null, frames);
        if (resnets.size() > 1) h = resnets.get(1).forward(attn.forwardImage(h), null, frames);
        return h;
    }
}
