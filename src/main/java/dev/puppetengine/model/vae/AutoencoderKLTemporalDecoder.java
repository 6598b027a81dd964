package dev.puppetengine.model.vae;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

/**
 * SVD's VAE (diffusers AutoencoderKLTemporalDecoder): a per-frame KL-f8 {@link Encoder} with quant_conv, and
 * a {@link TemporalDecoder} that decodes whole clips. Parameter names equal the diffusers state dict
 * (encoder.*, quant_conv.*, decoder.*). Images are channels-last in [-1, 1]; inputs are cast to the weights'
 * dtype and results come back in it. Latent scaling is the caller's business: {@link #encodeMean} returns the
 * unscaled posterior mean (Puppet-Master's conditioning latent; multiply by {@link #scalingFactor()} for
 * diffusion latents) and {@link #decode} expects latents already divided by it.
 */
public final class AutoencoderKLTemporalDecoder extends Module {
    private static final double LOGVAR_MIN = -30, LOGVAR_MAX = 20;

    private final VaeConfig cfg;
    private final Encoder encoder;
    private final Conv2d quantConv;
    private final TemporalDecoder decoder;

    public AutoencoderKLTemporalDecoder(VaeConfig cfg) {
        this.cfg = cfg;
        this.encoder = add("encoder", new Encoder(cfg));
        this.quantConv = add("quant_conv", new Conv2d(2 * cfg.latentChannels(), 2 * cfg.latentChannels(), 1, ConvSpec.of(1, 0), true));
        this.decoder = add("decoder", new TemporalDecoder(cfg));
    }

    public VaeConfig config() { return cfg; }

    public double scalingFactor() { return cfg.scalingFactor(); }

    /** images (N, H, W, in) -> posterior mean (N, H/8, W/8, latent), unscaled. Each image is encoded independently. */
    public Tensor encodeMean(Tensor images) {
        try (Scope s = Scope.open()) {
            return Scope.escape(F.contiguous(F.narrow(moments(images, false), 3, 0, cfg.latentChannels())));
        }
    }

    /** images (N, H, W, in) -> the posterior's mean and clamped log-variance, unscaled. */
    public LatentDistribution encode(Tensor images) { return encode(images, false); }

    /** As {@link #encode(Tensor)}; {@code checkpoint}: recompute each encoder block in backward (training, less memory). */
    public LatentDistribution encode(Tensor images, boolean checkpoint) {
        try (Scope s = Scope.open()) {
            Tensor[] mv = F.split(moments(images, checkpoint), 3, cfg.latentChannels(), cfg.latentChannels());
            Tensor mean = F.contiguous(mv[0]), logvar = F.clamp(mv[1], LOGVAR_MIN, LOGVAR_MAX);
            return new LatentDistribution(Scope.escape(mean), Scope.escape(logvar));
        }
    }

    /**
     * latents (B*frames, h, w, latent), ALREADY DIVIDED by {@link #scalingFactor()}, videos batch-major
     * (index b*frames + f) -> images (B*frames, 8h, 8w, out), roughly in [-1, 1]. All frames of a video must
     * be decoded in one call: the decoder mixes frames, so decoding in chunks changes the result.
     */
    public Tensor decode(Tensor latents, int frames) { return decode(latents, frames, false); }

    /** As {@link #decode(Tensor, int)}; {@code checkpoint}: recompute each decoder block in backward (training, less memory). */
    public Tensor decode(Tensor latents, int frames, boolean checkpoint) {
        int[] s = latents.shape();
        if (s.length != 4 || s[3] != cfg.latentChannels())
            throw new IllegalArgumentException("VAE decode: latents must be (N, h, w, " + cfg.latentChannels() + "), got " + Shape.str(s));
        if (frames < 1 || s[0] % frames != 0)
            throw new IllegalArgumentException("VAE decode: " + s[0] + " latents are not a whole number of videos of " + frames + " frames");
        try (Scope scope = Scope.open()) {
            return Scope.escape(decoder.forward(cast(latents), frames, checkpoint));
        }
    }

    private Tensor moments(Tensor images, boolean checkpoint) {
        int[] s = images.shape();
        if (s.length != 4 || s[3] != cfg.inChannels())
            throw new IllegalArgumentException("VAE encode: images must be (N, H, W, " + cfg.inChannels() + "), got " + Shape.str(s));
        return quantConv.forward(encoder.forward(cast(images), checkpoint));
    }

    private Tensor cast(Tensor t) {
        return F.to(t, quantConv.weight.value().dtype());
    }
}
