package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

/**
 * The EDM training loss in SVD's v-parameterisation (spec 1.3, 4.2) with sigma_data = 1:
 * ln sigma ~ N(P_mean, P_std^2) per sample; x = x0 + sigma eps; the UNet sees c_in x (or x unscaled, as the
 * public train.py does, when {@code applyCIn} is false) at c_noise = 0.25 ln sigma; D = x / (sigma^2 + 1) -
 * sigma / sqrt(sigma^2 + 1) v; loss = mean((1 + 1/sigma^2) (D - x0)^2), every frame weighted alike (the reference's
 * default, non_first_frame_weight = 1).
 * Randomness: sigma, eps and the drag dropout of micro-step t come from disjoint Philox ranges
 * ({@link Streams}), so a resumed run at the same step draws the same values.
 */
public final class EdmLoss {
    public static final double P_MEAN = 0.7, P_STD = 1.6;

    private final UNetSpatioTemporalConditionModel unet;
    private final boolean applyCIn;

    public EdmLoss(UNetSpatioTemporalConditionModel unet, boolean applyCIn) {
        this.unet = unet;
        this.applyCIn = applyCIn;
    }

    /**
     * One batch: latents (B, F, h, w, 4) scaled, in the {@link DType#full} type of the UNet's dtype (the loss's own
     * arithmetic: in bf16, D - x0 at small sigma would be rounding error weighted by 1 + 1/sigma^2); condLatent (B, h, w, 4)
     * unscaled and embedding (B, 1, X) in the UNet's dtype; drags (B, F, K, 4) in F32 (read on the host).
     */
    public record Batch(Tensor latents, Tensor condLatent, Tensor embedding, Tensor drags) {}

    /** The sigmas micro-step {@code step} draws for a batch of b samples. */
    public static double[] sigmas(long seed, long step, int b) {
        double[] s = new double[b];
        for (int i = 0; i < b; i++) s[i] = Math.exp(P_MEAN + P_STD * Philox.normal(seed, Streams.offset(step, Streams.SIGMA), i));
        return s;
    }

    public Tensor loss(Batch batch, long seed, long step, boolean checkpointing) {
        Tensor x0 = batch.latents();
        Backend be = x0.backend();
        DType dt = x0.dtype(), unetType = batch.condLatent().dtype();
        if (dt != unetType.full()) throw new IllegalArgumentException("EDM loss: latents in " + dt + ", expected " + unetType.full() + " for a " + unetType + " UNet");
        int[] s = x0.shape();
        int b = s[0];
        double[] sigma = sigmas(seed, step, b);
        double[] cNoise = new double[b], cIn = new double[b], cSkip = new double[b], cOut = new double[b], lambda = new double[b];
        for (int i = 0; i < b; i++) {
            double sg = sigma[i];
            cNoise[i] = 0.25 * Math.log(sg);
            cIn[i] = applyCIn ? 1 / Math.sqrt(sg * sg + 1) : 1;
            cSkip[i] = 1 / (sg * sg + 1);
            cOut[i] = -sg / Math.sqrt(sg * sg + 1);
            lambda[i] = 1 + 1 / (sg * sg);
        }
        int[] perSample = {b, 1, 1, 1, 1};
        Tensor eps = be.empty(dt, s);
        be.fillRandom(eps, RandomKind.NORMAL, seed, Streams.offset(step, Streams.NOISE));
        Tensor noisy = F.add(x0, F.mul(eps, Tensor.of(be, dt, perSample, sigma)));
        Tensor in = F.mul(noisy, Tensor.of(be, dt, perSample, cIn));   // the UNet casts its inputs to its dtype
        Tensor v = unet.forward(new UNetInputs(in, Tensor.of(be, DType.F32, new int[]{b}, cNoise), batch.condLatent(), batch.embedding(),
                batch.drags(), null), UNetOptions.training(seed, Streams.offset(step, Streams.DROPOUT), checkpointing));
        Tensor d = F.add(F.mul(noisy, Tensor.of(be, dt, perSample, cSkip)), F.mul(F.to(v, dt), Tensor.of(be, dt, perSample, cOut)));
        Tensor err = F.mul(F.square(F.sub(d, x0)), Tensor.of(be, dt, perSample, lambda));
        return F.mean(err);
    }
}
