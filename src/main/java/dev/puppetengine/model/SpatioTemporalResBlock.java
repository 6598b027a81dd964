package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/**
 * SVD's resnet: a per-frame {@link ResnetBlock2D} (spatial_res_block), a {@link TemporalResnetBlock}
 * across frames (temporal_res_block), and an {@link AlphaBlender} (time_mixer) between the two.
 * h (B*F, H, W, Cin) -> (B*F, H, W, Cout).
 */
public final class SpatioTemporalResBlock extends Module {
    private final ResnetBlock2D spatial;
    private final TemporalResnetBlock temporal;
    private final AlphaBlender mixer;

    public SpatioTemporalResBlock(int in, int out, int tembChannels, double eps, double temporalEps, int groups,
                                  double mergeFactor, boolean switchedMix) {
        this.spatial = add("spatial_res_block", new ResnetBlock2D(in, out, tembChannels, eps, groups));
        this.temporal = add("temporal_res_block", new TemporalResnetBlock(out, tembChannels, temporalEps, groups));
        this.mixer = add("time_mixer", new AlphaBlender(mergeFactor, switchedMix));
    }

    /** The UNet's variant: same eps in both halves, mix factor 0.5, unswitched. */
    public static SpatioTemporalResBlock unet(int in, int out, int tembChannels, double eps, int groups) {
        return new SpatioTemporalResBlock(in, out, tembChannels, eps, eps, groups, 0.5, false);
    }

    /** The VAE temporal decoder's variant: no time embedding, spatial eps 1e-6, temporal 1e-5, switched mix starting at 0. */
    public static SpatioTemporalResBlock vaeDecoder(int in, int out, int groups) {
        return new SpatioTemporalResBlock(in, out, 0, 1e-6, 1e-5, groups, 0.0, true);
    }

    public Tensor forward(Tensor h, Tensor siluTemb, int frames) { return forward(h, siluTemb, frames, null, null); }

    /**
     * With gamma and beta (B*F, H, W, Cout): the drag FiLM out * (1 + gamma) + beta of a drag-conditioned layer,
     * applied in the time mixer's pass (spec 3.4: right after the resnet).
     */
    public Tensor forward(Tensor h, Tensor siluTemb, int frames, Tensor gamma, Tensor beta) {
        Tensor hs = spatial.forward(h, siluTemb);
        int[] s = hs.shape();
        Tensor ht = temporal.forward(F.reshape(hs, s[0] / frames, frames, s[1], s[2], s[3]), siluTemb);
        return mixer.forward(hs, F.reshape(ht, s), gamma, beta);
    }
}
