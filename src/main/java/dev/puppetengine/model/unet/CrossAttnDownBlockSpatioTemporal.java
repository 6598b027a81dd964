package dev.puppetengine.model.unet;

import dev.puppetengine.model.Downsample2D;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.Deque;

/** Down block with cross-attention (Puppet-Master's "WithFlow" variant when the config has drags). */
public final class CrossAttnDownBlockSpatioTemporal extends CrossAttnLayers implements UNetBlock {
    private final Downsample2D downsampler;

    CrossAttnDownBlockSpatioTemporal(UNetConfig cfg, int in, int out, int heads, double eps, boolean downsample) {
        super(cfg, resnetInputs(in, out, cfg.layersPerBlock()), out, heads, eps);
        this.downsampler = downsample ? add("downsamplers", new ModuleList<Downsample2D>()).append(Downsample2D.symmetric(out)) : null;
    }

    static int[] resnetInputs(int in, int out, int layers) {
        int[] r = new int[layers];
        for (int j = 0; j < layers; j++) r[j] = j == 0 ? in : out;
        return r;
    }

    @Override
    public Tensor forward(Tensor h, BlockInputs in, Deque<Tensor> skips) {
        for (int j = 0; j < layers(); j++) {
            h = layer(j, h, in);
            skips.push(h);
        }
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.push(h);
        }
        return h;
    }
}
