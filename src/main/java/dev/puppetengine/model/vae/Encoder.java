package dev.puppetengine.model.vae;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The KL-f8 image encoder, frame by frame (purely 2-D): conv_in, DownEncoderBlock2D levels, mid block,
 * GN + SiLU, conv_out to 2 x latent channels (mean and log-variance, before quant_conv).
 * (N, H, W, in) -> (N, H/8, W/8, 2 latent) for four levels.
 */
public final class Encoder extends Module {
    /** GroupNorm eps of every encoder norm (resnets, attention, output). */
    static final double EPS = 1e-6;

    private final Conv2d convIn, convOut;
    private final List<DownEncoderBlock2D> down = new ArrayList<>();
    private final UNetMidBlock2D mid;
    private final GroupNorm convNormOut;

    Encoder(VaeConfig cfg) {
        List<Integer> boc = cfg.blockOutChannels();
        int groups = cfg.normNumGroups(), last = boc.get(boc.size() - 1);
        this.convIn = add("conv_in", Conv2d.same(cfg.inChannels(), boc.get(0), 3));
        ModuleList<DownEncoderBlock2D> blocks = add("down_blocks", new ModuleList<>());
        for (int i = 0; i < boc.size(); i++)
            down.add(blocks.append(new DownEncoderBlock2D(boc.get(Math.max(i - 1, 0)), boc.get(i), cfg.layersPerBlock(), groups, i < boc.size() - 1)));
        this.mid = add("mid_block", new UNetMidBlock2D(last, groups));
        this.convNormOut = add("conv_norm_out", new GroupNorm(groups, last, EPS));
        this.convOut = add("conv_out", Conv2d.same(last, 2 * cfg.latentChannels(), 3));
    }

    /** {@code checkpoint}: recompute each down block and the mid block in backward (F#block). */
    Tensor forward(Tensor x, boolean checkpoint) {
        List<Function<Tensor, Tensor>> blocks = new ArrayList<>();
        for (DownEncoderBlock2D b : down) blocks.add(b::forward);
        blocks.add(mid::forward);
        return convOut.forward(convNormOut.forwardSilu(F.chain(checkpoint, convIn.forward(x), blocks)));
    }
}
