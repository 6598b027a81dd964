package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/**
 * Per-frame residual block: conv1(SiLU(GN(h))) [+ time_emb_proj(SiLU(temb))], conv2(SiLU(GN(.))), plus the
 * input (through a 1x1 conv_shortcut when channels change). h (N, H, W, Cin) -> (N, H, W, Cout). The caller
 * passes SiLU(temb), which every block of the UNet shares, so the UNet computes it once per forward.
 */
public final class ResnetBlock2D extends Module {
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2, shortcut;
    private final Linear timeEmbProj;

    /** {@code tembChannels} 0 for blocks without a time embedding (the VAE). */
    public ResnetBlock2D(int in, int out, int tembChannels, double eps, int groups) {
        this.norm1 = add("norm1", new GroupNorm(groups, in, eps));
        this.conv1 = add("conv1", Conv2d.same(in, out, 3));
        this.timeEmbProj = tembChannels > 0 ? add("time_emb_proj", new Linear(tembChannels, out, true)) : null;
        this.norm2 = add("norm2", new GroupNorm(groups, out, eps));
        this.conv2 = add("conv2", Conv2d.same(out, out, 3));
        this.shortcut = in != out ? add("conv_shortcut", new Conv2d(in, out, 1, ConvSpec.of(1, 0), true)) : null;
    }

    /** siluTemb: SiLU(temb), (N, T), or null. */
    public Tensor forward(Tensor h, Tensor siluTemb) {
        Tensor a = conv1.forward(norm1.forwardSilu(h));
        if (timeEmbProj != null && siluTemb != null) {
            Tensor t = timeEmbProj.forward(siluTemb);
            a = F.add(a, F.reshape(t, t.size(0), 1, 1, t.size(1)));
        }
        return conv2.forward(norm2.forwardSilu(a), shortcut != null ? shortcut.forward(h) : h);
    }
}
