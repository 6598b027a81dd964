package dev.puppetengine.model.vae;

import dev.puppetengine.model.ResnetBlock2D;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

/** The encoder's middle: resnet, single-head self-attention over all pixels (head dim = channels), resnet. */
public final class UNetMidBlock2D extends Module {
    private final ResnetBlock2D res0, res1;
    private final Attention attn;

    UNetMidBlock2D(int channels, int groups) {
        ModuleList<ResnetBlock2D> resnets = add("resnets", new ModuleList<>());
        this.res0 = resnets.append(new ResnetBlock2D(channels, channels, 0, Encoder.EPS, groups));
        this.res1 = resnets.append(new ResnetBlock2D(channels, channels, 0, Encoder.EPS, groups));
        this.attn = add("attentions", new ModuleList<Attention>()).append(vaeAttention(channels, groups));
    }

    /** diffusers' attention of the VAE mid blocks: one head, q/k/v with bias, group_norm pre-norm, residual. */
    static Attention vaeAttention(int channels, int groups) {
        return new Attention(channels, channels, 1, channels, true, groups, Encoder.EPS);
    }

    Tensor forward(Tensor h) {
        return res1.forward(attn.forwardImage(res0.forward(h, null)), null);
    }
}
