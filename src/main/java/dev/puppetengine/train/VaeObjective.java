package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.LatentDistribution;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.ClipSample;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Training a VAE of the SVD architecture from scratch on clips (for the toy model; SVD's own VAE is frozen):
 * a random window of consecutive frames per clip, the temporal decoder over the window's posterior means,
 * and loss = Charbonnier(decode(mean) - x) + kl_weight KL(q(z|x) || N(0, I)). The decoder gets the mean, not
 * a sample: at initialisation the posterior std is 1 while the means are ~0.01, so a sample is pure noise and
 * the autoencoder did not learn at all in a first attempt (loss flat for 120 steps); with a tiny KL weight
 * the optimum has a near-zero variance anyway: sampling and the conditioning frame use the mean (train's video latents
 * are drawn as mean + std N(0, 1) from what prepare keeps, as the reference's loader does, spec 4.6). Windows rather
 * than whole clips keep a CPU step short; the decoder's temporal layers see real frame sequences either way.
 */
public final class VaeObjective implements Objective {
    private final AutoencoderKLTemporalDecoder vae;
    private final ClipDataset data;
    private final ParameterStore store;
    private final int window;
    private final double klWeight;
    private final long seed;

    public VaeObjective(AutoencoderKLTemporalDecoder vae, ParameterStore store, ClipDataset data, int window, double klWeight, long seed) {
        if (window < 1 || window > data.frames()) throw new IllegalArgumentException("window must be in 1.." + data.frames() + ", got " + window);
        if (!(klWeight >= 0 && klWeight < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException("KL weight must be a finite number >= 0, got " + klWeight);
        this.vae = vae;
        this.store = store;
        this.data = data;
        this.window = window;
        this.klWeight = klWeight;
        this.seed = seed;
    }

    @Override
    public int size() { return data.trainCount(); }

    @Override
    public Tensor loss(int[] items, long microStep, boolean checkpointing) throws IOException {
        Backend be = store.backend();
        List<RgbImage> frames = new ArrayList<>();
        for (int i = 0; i < items.length; i++) {
            ClipSample c = data.read(items[i]);
            int start = (int) (Philox.uniform(seed, Streams.offset(microStep, Streams.SIGMA), i) * (data.frames() - window + 1));
            for (int f = start; f < start + window; f++) frames.add(c.frame(f));
        }
        DType full = store.dtype().full();   // the loss is computed in fp32 for bf16 weights, as the UNet's is
        Tensor x = F.to(ImageTensors.toTensor(be, frames), full);
        LatentDistribution q;
        if (encoderTrains()) q = vae.encode(F.to(x, store.dtype()), checkpointing);
        else try (GradMode.Guard g = GradMode.noGrad()) {   // --decoder-only: a checkpointed frozen encoder would be recomputed in backward for nothing
            q = vae.encode(F.to(x, store.dtype()));
        }
        Tensor rec = F.to(vae.decode(q.mean(), window, checkpointing), full), mean = F.to(q.mean(), full), logvar = F.to(q.logvar(), full);
        Tensor charbonnier = F.mean(F.unary(UnaryOp.SQRT, F.affine(F.square(F.sub(rec, x)), 1, 1e-6)));
        // KL(N(mu, s^2) || N(0, 1)) = 0.5 (mu^2 + s^2 - 1 - log s^2), averaged per latent element
        Tensor kl = F.mean(F.affine(F.sub(F.add(F.square(mean), F.unary(UnaryOp.EXP, logvar)), logvar), 0.5, -0.5));
        return F.add(charbonnier, F.scale(kl, klWeight));
    }

    private boolean encoderTrains() {
        return store.parameters().entrySet().stream().anyMatch(e -> !e.getKey().startsWith("decoder.") && e.getValue().value().requiresGrad());
    }
}
