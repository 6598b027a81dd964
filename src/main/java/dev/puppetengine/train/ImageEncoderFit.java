package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Fits the toy image encoder (the CLIP architecture at toy size). Real CLIP is trained contrastively on
 * web-scale pairs; the toy's stand-in objective distils the trained VAE: from its image token, a linear head
 * must predict the frame's whole (scaled) VAE latent, so the token summarises what the frame looks like —
 * the role CLIP's global token plays for Puppet-Master. The head is discarded afterwards.
 *
 * <p>The encoder is trained in place, in the store that already owns its weights (the loaded model's); the head's
 * parameters join that store ({@link #attachHead}), so the trainer sees one store and every parameter one owner.
 */
public final class ImageEncoderFit implements Objective {
    private final ClipVisionModelWithProjection encoder;
    private final Linear head;
    private final AutoencoderKLTemporalDecoder vae;
    private final ClipDataset data;
    private final long seed;
    private ParameterStore store;

    public ImageEncoderFit(ClipVisionModelWithProjection encoder, AutoencoderKLTemporalDecoder vae, ClipDataset data, long seed) {
        this.encoder = encoder;
        int f = vae.config().downscaleFactor();   // the latent of the data's frames, whatever the model's resolution
        this.head = new Linear(encoder.config().projectionDim(), data.height() / f * (data.width() / f) * vae.config().latentChannels(), true);
        this.vae = vae;
        this.data = data;
        this.seed = seed;
    }

    /**
     * Adds the head's parameters ("head.weight", "head.bias", initialised from {@code seed}) to {@code encoderWeights},
     * the store that owns the encoder's weights, and trains in it: pass that same store to the {@link Trainer}.
     */
    public void attachHead(ParameterStore encoderWeights) {
        encoderWeights.addInitialized(HEAD + ".", head, seed);
        this.store = encoderWeights;
    }

    /** The prefix of the head's parameters in the store. */
    public static final String HEAD = "head";

    @Override
    public int size() { return data.trainCount(); }

    @Override
    public Tensor loss(int[] items, long microStep, boolean checkpointing) throws IOException {
        Backend be = store.backend();
        List<RgbImage> frames = new ArrayList<>();
        for (int i = 0; i < items.length; i++) {
            int f = (int) (Philox.uniform(seed, Streams.offset(microStep, Streams.SIGMA), i) * data.frames());
            frames.add(data.read(items[i]).frame(f));
        }
        Tensor target;
        try (GradMode.Guard g = GradMode.noGrad()) {
            Tensor z = vae.encodeMean(F.to(ImageTensors.toTensor(be, frames), store.dtype()));
            target = F.reshape(F.scale(z, vae.scalingFactor()), frames.size(), -1);
        }
        List<Tensor> pix = new ArrayList<>();
        for (RgbImage img : frames) pix.add(ClipPreprocess.toTensor(be, img, encoder.config().imageSize()));
        Tensor emb = encoder.embed(F.to(be.concat(pix, 0), store.dtype()), checkpointing);
        DType full = store.dtype().full();   // the loss is computed in fp32 for bf16 weights, as the UNet's is
        return F.mse(F.to(head.forward(emb), full), F.to(target, full));
    }
}
