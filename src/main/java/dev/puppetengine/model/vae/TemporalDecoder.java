package dev.puppetengine.model.vae;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.nn.TemporalConv;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * SVD's video decoder: conv_in, mid block, up levels (reversed channel list, layers_per_block + 1 video
 * resnets each), GN + SiLU, conv_out, and time_conv_out, a (3,1,1) convolution over frames without residual.
 * Frames of one video are decoded together: the temporal resnets, their frame-pooled group norms and
 * time_conv_out all mix frames. (B*F, h, w, latent) -> (B*F, 8h, 8w, out) for four levels.
 */
public final class TemporalDecoder extends Module {
    private final Conv2d convIn, convOut;
    private final MidBlockTemporalDecoder mid;
    private final List<UpBlockTemporalDecoder> up = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final TemporalConv timeConvOut;

    TemporalDecoder(VaeConfig cfg) {
        List<Integer> boc = cfg.blockOutChannels();
        int levels = boc.size(), groups = cfg.normNumGroups(), deepest = boc.get(levels - 1);
        this.convIn = add("conv_in", Conv2d.same(cfg.latentChannels(), deepest, 3));
        this.mid = add("mid_block", new MidBlockTemporalDecoder(deepest, cfg.layersPerBlock(), groups));
        ModuleList<UpBlockTemporalDecoder> blocks = add("up_blocks", new ModuleList<>());
        int out = deepest;
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = boc.get(levels - 1 - i);
            up.add(blocks.append(new UpBlockTemporalDecoder(in, out, cfg.layersPerBlock() + 1, groups, i < levels - 1)));
        }
        this.convNormOut = add("conv_norm_out", new GroupNorm(groups, boc.get(0), Encoder.EPS));
        this.convOut = add("conv_out", Conv2d.same(boc.get(0), cfg.outChannels(), 3));
        this.timeConvOut = add("time_conv_out", new TemporalConv(cfg.outChannels(), cfg.outChannels()));
    }

    /** {@code checkpoint}: recompute the mid block and each up block in backward (F#block). */
    Tensor forward(Tensor z, int frames, boolean checkpoint) {
        List<Function<Tensor, Tensor>> blocks = new ArrayList<>();
        blocks.add(in -> mid.forward(in, frames));
        for (UpBlockTemporalDecoder b : up) blocks.add(in -> b.forward(in, frames));
        Tensor x = convOut.forward(convNormOut.forwardSilu(F.chain(checkpoint, convIn.forward(z), blocks)));
        int[] s = x.shape();
        return F.reshape(timeConvOut.forward(F.reshape(x, s[0] / frames, frames, s[1], s[2], s[3])), s);
    }
}
