package dev.puppetengine.model.vae;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.CheckpointingCheck;
import dev.puppetengine.testing.ParameterGradCheck;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.puppetengine.model.vae.VaeBehaviourTest.CPU;
import static dev.puppetengine.model.vae.VaeBehaviourTest.randn;
import static dev.puppetengine.testing.ParameterGradCheck.project;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Backward through the tiny VAE (float64) against central differences on sampled parameters of every kind of layer. */
class VaeGradientTest {

    @Test
    void encoderGradientMatchesFiniteDifferences() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(7);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 7)) {
            ParameterGradCheck.perturb(ps, rng, 0.05);
            Tensor images = randn(rng, DType.F64, 2, 16, 16, 3);
            Tensor r1 = randn(rng, DType.F64, 2, 2, 2, 4), r2 = randn(rng, DType.F64, 2, 2, 2, 4);
            List<String> names = List.of(
                    "encoder.conv_in.weight",
                    "encoder.down_blocks.0.resnets.1.conv2.weight",
                    "encoder.down_blocks.0.resnets.0.norm1.weight",
                    "encoder.down_blocks.0.downsamplers.0.conv.weight",
                    "encoder.down_blocks.1.resnets.0.conv_shortcut.weight",
                    "encoder.down_blocks.3.resnets.1.norm2.bias",
                    "encoder.mid_block.attentions.0.group_norm.weight",
                    "encoder.mid_block.attentions.0.to_q.weight",
                    "encoder.mid_block.attentions.0.to_v.bias",
                    "encoder.mid_block.attentions.0.to_out.0.weight",
                    "encoder.mid_block.resnets.1.conv1.bias",
                    "encoder.conv_norm_out.weight",
                    "encoder.conv_out.weight",
                    "quant_conv.weight", "quant_conv.bias");
            int checked = ParameterGradCheck.check(ps, names, 2, rng, () -> {
                LatentDistribution d = vae.encode(images);
                return F.add(project(d.mean(), r1), project(d.logvar(), r2));
            });
            assertEquals(2 * names.size(), checked);
        }
    }

    @Test
    void decoderGradientMatchesFiniteDifferences() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(8);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 8)) {
            ParameterGradCheck.perturb(ps, rng, 0.05);
            Tensor z = randn(rng, DType.F64, 3, 2, 2, 4);
            Tensor r = randn(rng, DType.F64, 3, 16, 16, 3);
            List<String> names = List.of(
                    "decoder.conv_in.weight",
                    "decoder.mid_block.resnets.0.time_mixer.mix_factor",
                    "decoder.mid_block.resnets.0.spatial_res_block.conv1.weight",
                    "decoder.mid_block.attentions.0.to_k.weight",
                    "decoder.mid_block.attentions.0.group_norm.bias",
                    "decoder.mid_block.resnets.1.temporal_res_block.conv1.weight",
                    "decoder.up_blocks.0.resnets.2.temporal_res_block.norm2.weight",
                    "decoder.up_blocks.0.upsamplers.0.conv.weight",
                    "decoder.up_blocks.3.resnets.0.spatial_res_block.conv_shortcut.weight",
                    "decoder.up_blocks.3.resnets.1.time_mixer.mix_factor",
                    "decoder.up_blocks.3.resnets.2.temporal_res_block.conv2.bias",
                    "decoder.conv_norm_out.weight",
                    "decoder.conv_out.weight",
                    "decoder.time_conv_out.weight", "decoder.time_conv_out.bias");
            int checked = ParameterGradCheck.check(ps, names, 2, rng, () -> project(vae.decode(z, 3), r));
            assertEquals(2 * names.size(), checked);
        }
    }

    /** train-vae --gradient-checkpointing: each encoder and decoder block recomputed in backward, same gradients, less memory. */
    @Test
    void checkpointingGivesTheSameGradientsWithLessPeakMemory() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(9);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 9)) {
            ps.requireGrad(n -> true);
            Tensor images = randn(rng, DType.F64, 3, 64, 64, 3), r = randn(rng, DType.F64, 3, 64, 64, 3);
            List<String> names = List.of("encoder.down_blocks.0.resnets.0.conv1.weight", "encoder.mid_block.attentions.0.to_q.weight",
                    "decoder.mid_block.resnets.0.time_mixer.mix_factor", "decoder.up_blocks.3.resnets.0.spatial_res_block.conv1.weight");
            CheckpointingCheck.sameGradientsLessMemory("tiny VAE (3 frames of 64x64, encode + decode)", ps, names, r,
                    checkpoint -> vae.decode(vae.encode(images, checkpoint).mean(), 3, checkpoint));
        }
    }
}
