package dev.puppetengine.model.vae;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.Downsample2D;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tiny-VAE behaviour: shapes, per-image encoding, whole-clip decoding, the switched mix, the padding, the posterior split. */
class VaeBehaviourTest {
    static final CpuBackend CPU = CpuBackend.get();

    static Tensor randn(Random rng, DType t, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.of(CPU, t, shape, v);
    }

    /** Element block {@code i} of the leading dim. */
    static double[] item(Tensor t, int i) {
        double[] all = t.toDoubleArray();
        int per = all.length / t.size(0);
        return Arrays.copyOfRange(all, i * per, (i + 1) * per);
    }

    static Tensor withItem(Tensor t, int i, double[] values) {
        double[] all = t.toDoubleArray();
        System.arraycopy(values, 0, all, i * values.length, values.length);
        return Tensor.of(CPU, t.dtype(), t.shape(), all);
    }

    static void set(ParameterStore ps, String name, double... values) {
        ps.parameters().get(name).value().copyFrom(values);
    }

    @Test
    void shapesAt64x64() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(16));
        Random rng = new Random(1);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F32, 1)) {
            Tensor images = randn(rng, DType.F32, 2, 64, 64, 3);
            Tensor mean = vae.encodeMean(images);
            assertArrayEquals(new int[]{2, 8, 8, 4}, mean.shape());
            LatentDistribution d = vae.encode(images);
            assertArrayEquals(mean.toDoubleArray(), d.mean().toDoubleArray());
            assertArrayEquals(new int[]{2, 8, 8, 4}, d.logvar().shape());
            Tensor frames = vae.decode(randn(rng, DType.F32, 4, 8, 8, 4), 2);
            assertArrayEquals(new int[]{4, 64, 64, 3}, frames.shape());
            assertEquals(0.18215, vae.scalingFactor());

            var e = assertThrows(IllegalArgumentException.class, () -> vae.decode(randn(rng, DType.F32, 4, 8, 8, 4), 3));
            assertEquals("VAE decode: 4 latents are not a whole number of videos of 3 frames", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> vae.decode(randn(rng, DType.F32, 4, 8, 8, 3), 2));
            assertEquals("VAE decode: latents must be (N, h, w, 4), got [4, 8, 8, 3]", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> vae.decode(randn(rng, DType.F32, 8, 8, 4), 1));
            e = assertThrows(IllegalArgumentException.class, () -> vae.encodeMean(randn(rng, DType.F32, 1, 64, 64, 4)));
            assertEquals("VAE encode: images must be (N, H, W, 3), got [1, 64, 64, 4]", e.getMessage());
        }
    }

    @Test
    void oddSidesShrinkLikeTheRightBottomPaddedDownsampler() {
        // 57 -> 28 -> 14 -> 7 with pad (0,1,0,1); a symmetric pad of 1 would give 29 -> 15 -> 8
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F32, 1)) {
            assertArrayEquals(new int[]{1, 7, 7, 4}, vae.encodeMean(randn(new Random(2), DType.F32, 1, 57, 57, 3)).shape());
        }
    }

    @Test
    void downsamplerPadsOnlyRightAndBottom() {
        Downsample2D ds = Downsample2D.rightBottomPadded(1);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(ds, CPU, DType.F64, 1)) {
            double[] w = new double[9];
            w[0] = 1;       // tap (0, 0)
            w[8] = 10;      // tap (2, 2)
            set(ps, "conv.weight", w);
            set(ps, "conv.bias", 0.5);
            double[] x = new double[16];
            for (int i = 0; i < 16; i++) x[i] = 1 + i;      // x[r][c] = 1 + 4r + c
            Tensor y = ds.forward(Tensor.of(CPU, DType.F64, new int[]{1, 4, 4, 1}, x));
            // y[i][j] = x[2i][2j] + 10 x[2i+2][2j+2] + 0.5, reading zero past the right/bottom edge only
            assertArrayEquals(new int[]{1, 2, 2, 1}, y.shape());
            assertArrayEquals(new double[]{1 + 10 * 11 + 0.5, 3 + 0.5, 9 + 0.5, 11 + 0.5}, y.toDoubleArray(), 1e-12);
        }
    }

    @Test
    void encoderWorksImageByImage() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(3);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 3)) {
            Tensor images = randn(rng, DType.F64, 2, 16, 16, 3);
            Tensor a = vae.encodeMean(images);
            Tensor b = vae.encodeMean(withItem(images, 1, item(randn(rng, DType.F64, 1, 16, 16, 3), 0)));
            assertArrayEquals(item(a, 0), item(b, 0), "image 0's mean must not depend on image 1");
            assertTrue(maxDiff(item(a, 1), item(b, 1)) > 1e-3);
        }
    }

    @Test
    void decoderMixesTheFramesOfAVideoAndNothingElse() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(4);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 4)) {
            Tensor z = randn(rng, DType.F64, 4, 2, 2, 4);            // 2 videos x 2 frames, batch-major
            Tensor a = vae.decode(z, 2);
            Tensor b = vae.decode(withItem(z, 0, item(randn(rng, DType.F64, 1, 2, 2, 4), 0)), 2);
            assertTrue(maxDiff(item(a, 1), item(b, 1)) > 1e-4, "frame 1 must see frame 0 of its video");
            assertArrayEquals(item(a, 2), item(b, 2), "video 1 must not see video 0");
            assertArrayEquals(item(a, 3), item(b, 3), "video 1 must not see video 0");
        }
    }

    /**
     * Spec 2.9: out = (1 - sigmoid(m)) spatial + sigmoid(m) temporal. With every m = -40 the temporal branches
     * weigh ~4e-18, so with an identity time_conv_out each frame decodes as if alone (an unswitched mix would
     * keep the temporal branch instead). A time_conv_out that copies the previous frame then shows the frame
     * order and the zero padding in time.
     */
    @Test
    void switchedMixAndTimeConvOut() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        Random rng = new Random(5);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 5)) {
            ps.parameters().forEach((k, p) -> {
                if (k.endsWith("time_mixer.mix_factor")) p.value().copyFrom(new double[]{-40});
            });
            set(ps, "decoder.time_conv_out.weight", timeTap(1));
            set(ps, "decoder.time_conv_out.bias", 0, 0, 0);
            Tensor z = randn(rng, DType.F64, 3, 2, 2, 4);
            Tensor clip = vae.decode(z, 3);
            double[][] alone = new double[3][];
            for (int f = 0; f < 3; f++) {
                alone[f] = vae.decode(Tensor.of(CPU, DType.F64, new int[]{1, 2, 2, 4}, item(z, f)), 1).toDoubleArray();
                assertArrayEquals(alone[f], item(clip, f), 1e-12, "frame " + f);
            }

            set(ps, "decoder.time_conv_out.weight", timeTap(0));     // out[f] = in[f - 1] + bias
            set(ps, "decoder.time_conv_out.bias", 0.1, 0.2, 0.3);
            Tensor shifted = vae.decode(z, 3);
            double[] first = item(shifted, 0);
            for (int i = 0; i < first.length; i++) assertEquals(0.1 * (1 + i % 3), first[i], 1e-15, "frame 0 reads the zero padding");
            for (int f = 1; f < 3; f++) {
                double[] got = item(shifted, f);
                for (int i = 0; i < got.length; i++) assertEquals(alone[f - 1][i] + 0.1 * (1 + i % 3), got[i], 1e-12);
            }
        }
    }

    /**
     * diffusers' mid block runs resnets[0], then each (attention, resnet) of zip(attentions, resnets[1:]): with
     * layers_per_block 1 the attention is built (its keys are in the file) but never runs. Its to_out bias would
     * enter the output through the attention's residual.
     */
    @Test
    void oneLayerPerBlockSkipsTheDecoderMidAttention() {
        VaeConfig t = VaeConfig.tiny(8);
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(new VaeConfig(3, 3, 4, t.downBlockTypes(), t.blockOutChannels(), 1,
                64, t.scalingFactor(), true, t.normNumGroups()));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 7)) {
            Tensor z = randn(new Random(7), DType.F64, 2, 2, 2, 4);
            double[] before = vae.decode(z, 2).toDoubleArray();
            double[] bias = new double[16];
            Arrays.fill(bias, 1);
            set(ps, "decoder.mid_block.attentions.0.to_out.0.bias", bias);
            assertArrayEquals(before, vae.decode(z, 2).toDoubleArray());
        }
    }

    /** time_conv_out weight (engine layout (Cout, 3, 1, Cin)) that is the identity on tap {@code k} and zero elsewhere. */
    private static double[] timeTap(int k) {
        double[] w = new double[27];
        for (int c = 0; c < 3; c++) w[c * 9 + k * 3 + c] = 1;
        return w;
    }

    @Test
    void posteriorSplitsMeanAndClampedLogvar() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 6)) {
            set(ps, "quant_conv.weight", new double[64]);
            set(ps, "quant_conv.bias", 0.5, -0.25, 1, 2, 100, -100, 3, -3);
            LatentDistribution d = vae.encode(randn(new Random(6), DType.F64, 1, 16, 16, 3));
            double[] mean = d.mean().toDoubleArray(), logvar = d.logvar().toDoubleArray();
            assertEquals(4 * 4, mean.length);
            for (int i = 0; i < mean.length; i += 4) {
                assertArrayEquals(new double[]{0.5, -0.25, 1, 2}, Arrays.copyOfRange(mean, i, i + 4));
                assertArrayEquals(new double[]{20, -30, 3, -3}, Arrays.copyOfRange(logvar, i, i + 4));
            }
        }
    }

    /** torch.clamp's answers in every dtype: infinities become the bounds, huge values too (no cancellation). */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "BF16", "F16"})
    void logvarIsClampedLikeTorch(DType t) {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, t, 6)) {
            set(ps, "quant_conv.weight", new double[64]);
            double big = t == DType.F16 ? 60000 : 1e9;
            set(ps, "quant_conv.bias", 0, 0, 0, 0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, big, -3000);
            double[] logvar = vae.encode(Tensor.zeros(CPU, DType.F32, 1, 8, 8, 3)).logvar().toDoubleArray();
            assertArrayEquals(new double[]{20, -30, 20, -30}, Arrays.copyOf(logvar, 4), t.name());
        }
    }

    /** The mid blocks' attention against plain loops: GN(groups, 1e-6) -> one head over all H*W pixels (scale C^-1/2) -> to_out -> + x. */
    @Test
    void midBlockAttentionIsOneHeadOverAllPixelsWithResidual() {
        int c = 4, hw = 6, groups = 2;
        Attention attn = UNetMidBlock2D.vaeAttention(c, groups);
        Random rng = new Random(9);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(attn, CPU, DType.F64, 9)) {
            ps.parameters().forEach((k, p) -> p.value().copyFrom(item(randn(rng, DType.F64, 1, (int) p.numel()), 0)));
            double[] x = randn(rng, DType.F64, 1, 2, 3, c).toDoubleArray();
            double[] got = attn.forwardImage(Tensor.of(CPU, DType.F64, new int[]{1, 2, 3, c}, x)).toDoubleArray();

            double[] gamma = w(ps, "group_norm.weight"), beta = w(ps, "group_norm.bias"), n = new double[hw * c];
            int cg = c / groups;
            for (int g = 0; g < groups; g++) {
                double mean = 0, var = 0;
                for (int t = 0; t < hw; t++) for (int j = g * cg; j < (g + 1) * cg; j++) mean += x[t * c + j] / (hw * cg);
                for (int t = 0; t < hw; t++) for (int j = g * cg; j < (g + 1) * cg; j++) var += Math.pow(x[t * c + j] - mean, 2) / (hw * cg);
                for (int t = 0; t < hw; t++)
                    for (int j = g * cg; j < (g + 1) * cg; j++) n[t * c + j] = (x[t * c + j] - mean) / Math.sqrt(var + 1e-6) * gamma[j] + beta[j];
            }
            double[] q = lin(ps, "to_q", n, c), k = lin(ps, "to_k", n, c), v = lin(ps, "to_v", n, c), a = new double[hw * c];
            for (int i = 0; i < hw; i++) {
                double[] e = new double[hw];
                double sum = 0;
                for (int j = 0; j < hw; j++) {
                    for (int d = 0; d < c; d++) e[j] += q[i * c + d] * k[j * c + d] / Math.sqrt(c);
                    sum += e[j] = Math.exp(e[j]);
                }
                for (int j = 0; j < hw; j++) for (int d = 0; d < c; d++) a[i * c + d] += e[j] / sum * v[j * c + d];
            }
            double[] want = lin(ps, "to_out.0", a, c);
            for (int i = 0; i < want.length; i++) want[i] += x[i];
            assertArrayEquals(want, got, 1e-12);
        }
    }

    private static double[] w(ParameterStore ps, String name) {
        return ps.parameters().get(name).value().toDoubleArray();
    }

    /** Row-wise x W^T + b for rows of width c. */
    private static double[] lin(ParameterStore ps, String prefix, double[] x, int c) {
        double[] wt = w(ps, prefix + ".weight"), b = w(ps, prefix + ".bias"), y = new double[x.length];
        for (int t = 0; t < x.length / c; t++)
            for (int o = 0; o < c; o++) {
                y[t * c + o] = b[o];
                for (int j = 0; j < c; j++) y[t * c + o] += wt[o * c + j] * x[t * c + j];
            }
        return y;
    }

    static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
