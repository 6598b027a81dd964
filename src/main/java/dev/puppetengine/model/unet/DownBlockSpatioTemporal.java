package dev.puppetengine.model.unet;

import dev.puppetengine.model.Downsample2D;
import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.Deque;

/** Down block of resnets only (SVD's lowest level). */
public final class DownBlockSpatioTemporal extends Module implements UNetBlock {
    private final ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
    private final Downsample2D downsampler;

    DownBlockSpatioTemporal(UNetConfig cfg, int in, int out, double eps, boolean downsample) {
        for (int r : CrossAttnDownBlockSpatioTemporal.resnetInputs(in, out, cfg.layersPerBlock()))
            resnets.append(SpatioTemporalResBlock.unet(r, out, cfg.timeEmbedDim(), eps, cfg.normNumGroups()));
        this.downsampler = downsample ? add("downsamplers", new ModuleList<Downsample2D>()).append(Downsample2D.symmetric(out)) : null;
    }

    @Override
    public Tensor forward(Tensor h, BlockInputs in, Deque<Tensor> skips) {
        for (SpatioTemporalResBlock r : resnets.items()) {
            Tensor x = h;
            h = in.run(a -> r.forward(a[0], a[1], in.frames()), x, in.siluTemb());
            skips.push(h);
        }
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.push(h);
        }
        return h;
    }
}
