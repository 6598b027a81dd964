package dev.puppetengine.model.vae;

import dev.puppetengine.model.Downsample2D;
import dev.puppetengine.model.ResnetBlock2D;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/** Encoder level: resnets without time embedding, then (except at the lowest level) the right/bottom-padded stride-2 conv. */
public final class DownEncoderBlock2D extends Module {
    private final ModuleList<ResnetBlock2D> resnets = add("resnets", new ModuleList<>());
    private final Downsample2D downsampler;

    DownEncoderBlock2D(int in, int out, int layers, int groups, boolean downsample) {
        for (int i = 0; i < layers; i++) resnets.append(new ResnetBlock2D(i == 0 ? in : out, out, 0, Encoder.EPS, groups));
        this.downsampler = downsample ? add("downsamplers", new ModuleList<Downsample2D>()).append(Downsample2D.rightBottomPadded(out)) : null;
    }

    Tensor forward(Tensor h) {
        for (ResnetBlock2D r : resnets.items()) h = r.forward(h, null);
        return downsampler != null ? downsampler.forward(h) : h;
    }
}
