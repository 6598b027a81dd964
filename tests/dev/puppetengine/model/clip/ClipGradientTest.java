package dev.puppetengine.model.clip;

import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.ParameterGradCheck;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.puppetengine.model.clip.ClipBehaviourTest.CPU;
import static dev.puppetengine.model.clip.ClipBehaviourTest.randn;
import static dev.puppetengine.testing.ParameterGradCheck.project;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Backward through the tiny CLIP tower (float64) against central differences on sampled parameters of every layer kind. */
class ClipGradientTest {

    @Test
    void gradientMatchesFiniteDifferences() {
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        Random rng = new Random(3);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(clip, CPU, DType.F64, 3)) {
            ParameterGradCheck.perturb(ps, rng, 0.05);
            Tensor pixels = randn(rng, DType.F64, 2, 32, 32, 3);
            Tensor r = randn(rng, DType.F64, 2, 16);
            String e = "vision_model.embeddings.", l0 = "vision_model.encoder.layers.0.", l1 = "vision_model.encoder.layers.1.";
            List<String> names = List.of(
                    e + "class_embedding", e + "patch_embedding.weight", e + "position_embedding.weight",
                    "vision_model.pre_layrnorm.weight",
                    l0 + "self_attn.q_proj.weight", l0 + "self_attn.k_proj.weight", l0 + "self_attn.v_proj.bias",
                    l0 + "self_attn.out_proj.weight", l0 + "layer_norm1.bias", l0 + "mlp.fc1.weight",
                    l1 + "mlp.fc2.bias", l1 + "layer_norm2.weight", l1 + "self_attn.q_proj.bias",
                    "vision_model.post_layernorm.bias", "visual_projection.weight");
            int checked = ParameterGradCheck.check(ps, names, 3, rng, () -> project(clip.embed(pixels), r));
            assertEquals(3 * names.size(), checked);
        }
    }
}
