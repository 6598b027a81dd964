package dev.puppetengine.model.vae;

import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.model.Upsample2D;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/** Decoder level: video resnets (the first changes the channel count), then nearest x2 + conv except at the top level. */
public final class UpBlockTemporalDecoder extends Module {
    private final ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
    private final Upsample2D upsampler;

    UpBlockTemporalDecoder(int in, int out, int layers, int groups, boolean upsample) {
        for (int i = 0; i < layers; i++) resnets.append(SpatioTemporalResBlock.vaeDecoder(i == 0 ? in : out, out, groups));
        this.upsampler = upsample ? add("upsamplers", new ModuleList<Upsample2D>()).append(new Upsample2D(out)) : null;
    }

    Tensor forward(Tensor h, int frames) {
        for (SpatioTemporalResBlock r : resnets.items()) h = r.forward(h, null, frames);
        return upsampler != null ? upsampler.forward(h) : h;
    }
}
