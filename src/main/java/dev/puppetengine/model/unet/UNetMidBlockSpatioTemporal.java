package dev.puppetengine.model.unet;

import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/** resnet -> transformer (plain CLIP context, no drag modules) -> resnet. */
public final class UNetMidBlockSpatioTemporal extends Module {
    private final SpatioTemporalResBlock res0, res1;
    private final TransformerSpatioTemporalModel attn;

    UNetMidBlockSpatioTemporal(UNetConfig cfg, int channels, int heads) {
        ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
        this.res0 = resnets.append(SpatioTemporalResBlock.unet(channels, channels, cfg.timeEmbedDim(), cfg.resnetEpsMid(), cfg.normNumGroups()));
        this.res1 = resnets.append(SpatioTemporalResBlock.unet(channels, channels, cfg.timeEmbedDim(), cfg.resnetEpsMid(), cfg.normNumGroups()));
        this.attn = add("attentions", new ModuleList<TransformerSpatioTemporalModel>())
                .append(new TransformerSpatioTemporalModel(channels, heads, cfg.crossAttentionDim(), cfg.normNumGroups(), cfg.allToFirstAttention()));
    }

    Tensor forward(Tensor h, BlockInputs in) {
        h = in.run(x -> res0.forward(x[0], x[1], in.frames()), h, in.siluTemb());
        h = in.run(x -> attn.forward(x[0], x[1], in.frames()), h, in.context());
        return in.run(x -> res1.forward(x[0], x[1], in.frames()), h, in.siluTemb());
    }
}
