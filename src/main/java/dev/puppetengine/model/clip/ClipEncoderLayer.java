package dev.puppetengine.model.clip;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Container;
import dev.puppetengine.nn.LayerNorm;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** Pre-LN transformer layer: x + self_attn(layer_norm1(x)), then + mlp.fc2(GELU(mlp.fc1(layer_norm2(x)))). */
public final class ClipEncoderLayer extends Module {
    private final ClipAttention selfAttn;
    private final LayerNorm layerNorm1, layerNorm2;
    private final Linear fc1, fc2;

    ClipEncoderLayer(ClipVisionConfig cfg) {
        int d = cfg.hiddenSize();
        this.selfAttn = add("self_attn", new ClipAttention(d, cfg.numAttentionHeads()));
        this.layerNorm1 = add("layer_norm1", new LayerNorm(d, cfg.layerNormEps()));
        Container mlp = add("mlp", new Container());
        this.fc1 = mlp.put("fc1", new Linear(d, cfg.intermediateSize(), true));
        this.fc2 = mlp.put("fc2", new Linear(cfg.intermediateSize(), d, true));
        this.layerNorm2 = add("layer_norm2", new LayerNorm(d, cfg.layerNormEps()));
    }

    Tensor forward(Tensor x) {
        x = selfAttn.forward(layerNorm1.forward(x), x);   // residuals: in the out-projections
        return fc2.forward(F.gelu(fc1.forward(layerNorm2.forward(x))), x);
    }
}
