package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.model.Upsample2D;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.Deque;
import java.util.List;

/** Up block of resnets only (SVD's lowest level): concat the popped skip after h, resnet, then upsample. */
public final class UpBlockSpatioTemporal extends Module implements UNetBlock {
    private final ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
    private final Upsample2D upsampler;

    UpBlockSpatioTemporal(UNetConfig cfg, int[] resnetIn, int out, double eps, boolean upsample) {
        for (int r : resnetIn) resnets.append(SpatioTemporalResBlock.unet(r, out, cfg.timeEmbedDim(), eps, cfg.normNumGroups()));
        this.upsampler = upsample ? add("upsamplers", new ModuleList<Upsample2D>()).append(new Upsample2D(out)) : null;
    }

    @Override
    public Tensor forward(Tensor h, BlockInputs in, Deque<Tensor> skips) {
        for (SpatioTemporalResBlock r : resnets.items()) {
            Tensor x = F.concat(List.of(h, skips.pop()), 3);
            h = in.run(a -> r.forward(a[0], a[1], in.frames()), x, in.siluTemb());
        }
        return upsampler != null ? upsampler.forward(h) : h;
    }
}
