package dev.puppetengine.model.clip;

import dev.puppetengine.backend.Erf;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.CheckpointingCheck;
import dev.puppetengine.testing.ParameterGradCheck;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tiny CLIP against a plain-loop reference written from spec 2.10 on the checkpoint-layout weights
 * (patch conv (D, C, P, P), torch Linear (out, in)); no PyTorch is available to compare with.
 */
class ClipBehaviourTest {
    static final CpuBackend CPU = CpuBackend.get();

    static Tensor randn(Random rng, DType t, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.of(CPU, t, shape, v);
    }

    /** fit-image-encoder --gradient-checkpointing: each encoder layer recomputed in backward, same gradients, less memory. */
    @Test
    void checkpointingGivesTheSameGradientsWithLessPeakMemory() {
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(64, 4, 16));
        Random rng = new Random(3);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(clip, CPU, DType.F64, 3)) {
            ps.requireGrad(n -> true);
            Tensor pixels = randn(rng, DType.F64, 4, 64, 64, 3), r = randn(rng, DType.F64, 4, 16);
            String[] names = {"vision_model.encoder.layers.0.self_attn.q_proj.weight", "vision_model.encoder.layers.1.mlp.fc1.weight",
                    "vision_model.embeddings.patch_embedding.weight"};
            CheckpointingCheck.sameGradientsLessMemory("tiny CLIP (4 images of 64x64, 256 patches)", ps, Arrays.asList(names), r,
                    checkpoint -> clip.embed(pixels, checkpoint));
        }
    }

    @Test
    void embedMatchesThePlainReference() {
        ClipVisionConfig cfg = ClipVisionConfig.tiny(32, 8, 16);
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(cfg);
        Random rng = new Random(1);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(clip, CPU, DType.F64, 1)) {
            ParameterGradCheck.perturb(ps, rng, 0.1);
            Tensor pixels = randn(rng, DType.F64, 2, 32, 32, 3);
            Tensor out = clip.embed(pixels);
            assertArrayEquals(new int[]{2, 16}, out.shape());
            double[] got = out.toDoubleArray(), px = pixels.toDoubleArray();
            Reference ref = new Reference(cfg, ps);
            for (int n = 0; n < 2; n++) {
                double[] want = ref.embed(Arrays.copyOfRange(px, n * 32 * 32 * 3, (n + 1) * 32 * 32 * 3));
                assertArrayEquals(want, Arrays.copyOfRange(got, n * 16, (n + 1) * 16), 1e-10, "image " + n);
            }
        }
    }

    @Test
    void imagesAreEmbeddedIndependentlyAndShapesAreChecked() {
        ClipVisionConfig cfg = ClipVisionConfig.tiny(56, 14, 8);
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(cfg);
        Random rng = new Random(2);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(clip, CPU, DType.F32, 2)) {
            double[] a = randn(rng, DType.F32, 1, 56, 56, 3).toDoubleArray(), b = randn(rng, DType.F32, 1, 56, 56, 3).toDoubleArray();
            double[] both = new double[2 * a.length];
            System.arraycopy(a, 0, both, 0, a.length);
            System.arraycopy(b, 0, both, a.length, b.length);
            double[] pair = clip.embed(Tensor.of(CPU, DType.F32, new int[]{2, 56, 56, 3}, both)).toDoubleArray();
            double[] alone = clip.embed(Tensor.of(CPU, DType.F32, new int[]{1, 56, 56, 3}, b)).toDoubleArray();
            assertArrayEquals(alone, Arrays.copyOfRange(pair, 8, 16), 1e-6);
            assertTrue(Math.abs(pair[0] - pair[8]) + Math.abs(pair[1] - pair[9]) > 1e-6);
            var e = assertThrows(IllegalArgumentException.class, () -> clip.embed(randn(rng, DType.F32, 1, 64, 64, 3)));
            assertEquals("CLIP embed: pixels must be (N, 56, 56, 3), got [1, 64, 64, 3]", e.getMessage());
            for (int[] wrong : new int[][]{{1, 56, 56}, {1, 56, 64, 3}, {1, 56, 56, 4}})     // refused here, not by the patch conv
                assertEquals("CLIP embed: pixels must be (N, 56, 56, 3), got " + Arrays.toString(wrong),
                        assertThrows(IllegalArgumentException.class, () -> clip.embed(randn(rng, DType.F32, wrong))).getMessage());
        }
    }

    /** The model from spec 2.10 in plain loops over checkpoint-layout weights. */
    private static final class Reference {
        final ClipVisionConfig cfg;
        final ParameterStore ps;

        Reference(ClipVisionConfig cfg, ParameterStore ps) {
            this.cfg = cfg;
            this.ps = ps;
        }

        double[] w(String name) {
            Parameter p = ps.parameters().get("vision_model." + name);
            if (p == null) p = ps.parameters().get(name);
            try (Tensor c = p.layout().toCheckpoint(p.value())) {
                return c.toDoubleArray();
            }
        }

        /** pixels of one image, (S, S, C) row-major. */
        double[] embed(double[] px) {
            int d = cfg.hiddenSize(), ps = cfg.patchSize(), g = cfg.gridSize(), c = cfg.numChannels(), size = cfg.imageSize();
            double[] conv = w("embeddings.patch_embedding.weight"), pos = w("embeddings.position_embedding.weight"), cls = w("embeddings.class_embedding");
            double[][] x = new double[g * g + 1][d];
            for (int j = 0; j < d; j++) x[0][j] = cls[j] + pos[j];
            for (int gy = 0; gy < g; gy++)
                for (int gx = 0; gx < g; gx++) {
                    int t = 1 + gy * g + gx;
                    for (int o = 0; o < d; o++) {
                        double acc = 0;
                        for (int ch = 0; ch < c; ch++)
                            for (int ky = 0; ky < ps; ky++)
                                for (int kx = 0; kx < ps; kx++)
                                    acc += conv[((o * c + ch) * ps + ky) * ps + kx] * px[((gy * ps + ky) * size + gx * ps + kx) * c + ch];
                        x[t][o] = acc + pos[t * d + o];
                    }
                }
            x = layerNorm(x, "pre_layrnorm");
            for (int l = 0; l < cfg.numHiddenLayers(); l++) {
                String p = "encoder.layers." + l + ".";
                x = add(x, linear(attention(layerNorm(x, p + "layer_norm1"), p + "self_attn."), p + "self_attn.out_proj"));
                double[][] h = linear(layerNorm(x, p + "layer_norm2"), p + "mlp.fc1");
                for (double[] row : h) for (int j = 0; j < row.length; j++) row[j] = 0.5 * row[j] * (1 + Erf.erf(row[j] / Math.sqrt(2)));
                x = add(x, linear(h, p + "mlp.fc2"));
            }
            double[] pooled = layerNorm(new double[][]{x[0]}, "post_layernorm")[0];
            double[] proj = w("visual_projection.weight");
            double[] out = new double[cfg.projectionDim()];
            for (int o = 0; o < out.length; o++)
                for (int j = 0; j < d; j++) out[o] += proj[o * d + j] * pooled[j];
            return out;
        }

        double[][] attention(double[][] x, String p) {
            double[][] q = linear(x, p + "q_proj"), k = linear(x, p + "k_proj"), v = linear(x, p + "v_proj");
            int heads = cfg.numAttentionHeads(), dh = cfg.hiddenSize() / heads, len = x.length;
            double[][] out = new double[len][cfg.hiddenSize()];
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < len; i++) {
                    double[] score = new double[len];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < len; j++) {
                        for (int e = 0; e < dh; e++) score[j] += q[i][h * dh + e] * k[j][h * dh + e];
                        score[j] /= Math.sqrt(dh);
                        max = Math.max(max, score[j]);
                    }
                    for (int j = 0; j < len; j++) sum += score[j] = Math.exp(score[j] - max);
                    for (int j = 0; j < len; j++)
                        for (int e = 0; e < dh; e++) out[i][h * dh + e] += score[j] / sum * v[j][h * dh + e];
                }
            return out;
        }

        double[][] linear(double[][] x, String p) {
            double[] wt = w(p + ".weight"), b = w(p + ".bias");
            int in = x[0].length, outDim = b.length;
            double[][] y = new double[x.length][outDim];
            for (int t = 0; t < x.length; t++)
                for (int o = 0; o < outDim; o++) {
                    double acc = b[o];
                    for (int j = 0; j < in; j++) acc += wt[o * in + j] * x[t][j];
                    y[t][o] = acc;
                }
            return y;
        }

        double[][] layerNorm(double[][] x, String p) {
            double[] gamma = w(p + ".weight"), beta = w(p + ".bias");
            double[][] y = new double[x.length][];
            for (int t = 0; t < x.length; t++) {
                double mean = Arrays.stream(x[t]).average().orElseThrow(), var = 0;
                for (double v : x[t]) var += (v - mean) * (v - mean) / x[t].length;
                y[t] = new double[x[t].length];
                for (int j = 0; j < x[t].length; j++) y[t][j] = (x[t][j] - mean) / Math.sqrt(var + cfg.layerNormEps()) * gamma[j] + beta[j];
            }
            return y;
        }

        static double[][] add(double[][] a, double[][] b) {
            double[][] y = new double[a.length][a[0].length];
            for (int t = 0; t < a.length; t++)
                for (int j = 0; j < a[t].length; j++) y[t][j] = a[t][j] + b[t][j];
            return y;
        }
    }
}
