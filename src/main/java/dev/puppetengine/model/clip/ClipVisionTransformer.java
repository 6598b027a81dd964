package dev.puppetengine.model.clip;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Container;
import dev.puppetengine.nn.LayerNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * transformers' CLIPVisionTransformer ("vision_model"): embeddings, pre_layrnorm (sic, the checkpoint's
 * spelling), encoder.layers, and post_layernorm applied to the class token only (the pooled output).
 */
public final class ClipVisionTransformer extends Module {
    private final ClipVisionEmbeddings embeddings;
    private final LayerNorm preLayrnorm, postLayernorm;
    private final ModuleList<ClipEncoderLayer> layers;

    ClipVisionTransformer(ClipVisionConfig cfg) {
        this.embeddings = add("embeddings", new ClipVisionEmbeddings(cfg));
        this.preLayrnorm = add("pre_layrnorm", new LayerNorm(cfg.hiddenSize(), cfg.layerNormEps()));
        this.layers = add("encoder", new Container()).put("layers", new ModuleList<>());
        for (int i = 0; i < cfg.numHiddenLayers(); i++) layers.append(new ClipEncoderLayer(cfg));
        this.postLayernorm = add("post_layernorm", new LayerNorm(cfg.hiddenSize(), cfg.layerNormEps()));
    }

    /** pixels (N, S, S, channels) -> pooled class token (N, hidden); {@code checkpoint}: recompute each layer in backward (F#block). */
    Tensor forward(Tensor pixels, boolean checkpoint) {
        List<Function<Tensor, Tensor>> blocks = new ArrayList<>();
        for (ClipEncoderLayer l : layers.items()) blocks.add(l::forward);
        Tensor x = F.chain(checkpoint, preLayrnorm.forward(embeddings.forward(pixels)), blocks);
        int[] s = x.shape();
        return postLayernorm.forward(F.reshape(F.narrow(x, 1, 0, 1), s[0], s[2]));
    }
}
