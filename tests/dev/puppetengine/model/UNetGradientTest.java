package dev.puppetengine.model;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Backward through the whole tiny Puppet-Master UNet (float64) against central differences on sampled parameters. */
class UNetGradientTest {
    static final CpuBackend CPU = CpuBackend.get();
    /** Drag features not detached, so backward computes the derivative of the function the differences see. */
    static final UNetOptions FULL_GRADIENT = new UNetOptions(false, 0, 0, false, false);

    /** A tiny PM config: channels 8/16, 3 frames, 8x8 latents, context 16. */
    static UNetConfig tinyConfig() {
        return UNetConfig.tiny(8, 3, 16);
    }

    static UNetInputs inputs(Random rng, int b, int frames, int r, int ctx, DType t) {
        Tensor sample = randn(rng, t, b, frames, r, r, 4);
        Tensor timestep = randn(rng, t, b);
        Tensor latents = randn(rng, t, b, r, r, 4);
        Tensor context = randn(rng, t, b, 1, ctx);
        double[] d = new double[b * frames * 5 * 4];
        for (int v = 0; v < b; v++)
            for (int k = 0; k < 2; k++) {                // two present drags, straight lines
                double sx = rng.nextDouble(), sy = rng.nextDouble(), ex = rng.nextDouble(), ey = rng.nextDouble();
                for (int f = 0; f < frames; f++) {
                    int o = ((v * frames + f) * 5 + k) * 4;
                    double a = frames == 1 ? 0 : (double) f / (frames - 1);
                    d[o] = sx; d[o + 1] = sy; d[o + 2] = sx + (ex - sx) * a; d[o + 3] = sy + (ey - sy) * a;
                }
            }
        return new UNetInputs(sample, timestep, latents, context, Tensor.of(CPU, DType.F32, new int[]{b, frames, 5, 4}, d), null);
    }

    static Tensor randn(Random rng, DType t, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.of(CPU, t, shape, v);
    }

    @Test
    void wholeUNetGradientMatchesFiniteDifferences() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(tinyConfig());
        Random rng = new Random(3);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 11)) {
            // zero-initialised drag outputs would make their inputs' gradients vanish: perturb every parameter
            for (Parameter p : ps.parameters().values()) {
                double[] v = p.value().toDoubleArray();
                for (int i = 0; i < v.length; i++) v[i] += 0.05 * rng.nextGaussian();
                p.value().copyFrom(v);
            }
            ps.requireGrad(name -> true);
            UNetInputs in = inputs(rng, 2, 3, 8, 16, DType.F64);
            Tensor r = randn(rng, DType.F64, 2, 3, 8, 8, 4);
            Tensor loss = F.sum(F.mul(unet.forward(in, FULL_GRADIENT), r));
            Autograd.backward(loss);

            Map<String, Parameter> params = ps.parameters();
            List<String> names = List.of(
                    "down_blocks.0.resnets.0.time_mixer.mix_factor",
                    "down_blocks.1.attentions.0.time_mixer.mix_factor",
                    "down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_k.weight",     // all-to-first K
                    "up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_v.weight",       // all-to-first V
                    "mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                    "down_blocks.0.flow_convs.0.conv_in.weight",
                    "up_blocks.2.flow_convs.1.conv_out.bias",
                    "down_blocks.1.drag_token_mlps.1.0.weight",
                    "up_blocks.1.drag_token_mlps.0.2.bias",
                    "down_blocks.2.attentions.0.temporal_transformer_blocks.0.attn2.to_k.weight",
                    "down_blocks.0.attentions.0.time_pos_embed.linear_1.weight",
                    "up_blocks.0.resnets.2.temporal_res_block.conv1.weight",
                    "down_blocks.1.resnets.0.spatial_res_block.conv_shortcut.weight",
                    "down_blocks.1.downsamplers.0.conv.weight",
                    "up_blocks.1.upsamplers.0.conv.bias",
                    "time_embedding.linear_1.weight",
                    "conv_in.weight", "conv_out.bias", "conv_norm_out.weight");
            int checked = 0;
            for (String name : names) {
                Parameter p = params.get(name);
                assertTrue(p != null, "no parameter " + name);
                double[] g = p.value().grad().toDoubleArray(), base = p.value().toDoubleArray();
                for (int t = 0; t < 2; t++) {
                    int j = rng.nextInt(base.length);
                    double h = 1e-5;
                    double lp = eval(unet, in, r, p, base, j, base[j] + h), lm = eval(unet, in, r, p, base, j, base[j] - h);
                    p.value().copyFrom(base);
                    double num = (lp - lm) / (2 * h);
                    if (Math.abs(num - g[j]) > 1e-6 + 1e-4 * Math.max(Math.abs(num), Math.abs(g[j])))
                        fail(name + "[" + j + "]: analytic " + g[j] + " vs numeric " + num);
                    checked++;
                }
            }
            assertEquals(2 * names.size(), checked);
        }
    }

    private static double eval(UNetSpatioTemporalConditionModel unet, UNetInputs in, Tensor r, Parameter p, double[] base, int j, double v) {
        double[] x = base.clone();
        x[j] = v;
        p.value().copyFrom(x);
        try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
            return F.sum(F.mul(unet.forward(in, FULL_GRADIENT), r)).item();
        }
    }
}
