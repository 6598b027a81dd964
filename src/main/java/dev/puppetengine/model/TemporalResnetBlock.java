package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.TemporalConv;
import dev.puppetengine.tensor.Tensor;

/**
 * Residual block across frames: x (B, F, H, W, C); group norm statistics pooled over all F frames, (3,1,1)
 * convolutions along the frame axis, per-frame time embedding; x + conv2(SiLU(GN(conv1(SiLU(GN(x))) +
 * time_emb_proj(SiLU(temb))))), given SiLU(temb) like {@link ResnetBlock2D}.
 */
public final class TemporalResnetBlock extends Module {
    private final GroupNorm norm1, norm2;
    private final TemporalConv conv1, conv2;
    private final Linear timeEmbProj;

    public TemporalResnetBlock(int channels, int tembChannels, double eps, int groups) {
        this.norm1 = add("norm1", new GroupNorm(groups, channels, eps));
        this.conv1 = add("conv1", new TemporalConv(channels, channels));
        this.timeEmbProj = tembChannels > 0 ? add("time_emb_proj", new Linear(tembChannels, channels, true)) : null;
        this.norm2 = add("norm2", new GroupNorm(groups, channels, eps));
        this.conv2 = add("conv2", new TemporalConv(channels, channels));
    }

    /** siluTemb: SiLU(temb), (B*F, T), or null. */
    public Tensor forward(Tensor x, Tensor siluTemb) {
        int[] s = x.shape();
        Tensor t = conv1.forward(norm1.forwardSilu(x));
        if (timeEmbProj != null && siluTemb != null) {
            Tensor e = timeEmbProj.forward(siluTemb);
            t = F.add(t, F.reshape(e, s[0], s[1], 1, 1, e.size(1)));
        }
        return conv2.forward(norm2.forwardSilu(t), x);
    }
}
