package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.TorchCpuGenerator;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;


import static dev.puppetengine.pipeline.TinySampling.drags;
import static dev.puppetengine.pipeline.TinySampling.randn;
import static dev.puppetengine.pipeline.TinySampling.unet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    static final CpuBackend CPU = CpuBackend.get();

    /** Spec 5.1, as printed (6 significant digits). */
    @Test
    void karrasSigmasReproduceTheSpecTables() {
        double[] n25 = {700, 545.729, 421.569, 322.454, 244.023, 182.547, 134.854, 98.2671, 70.5408, 49.8098, 34.5367,
                23.4675, 15.59, 10.0971, 6.35427, 3.8697, 2.26912, 1.27318, 0.678146, 0.339378, 0.157405, 0.0663991,
                0.0248026, 0.0078825, 0.002, 0};
        double[] n50 = {700, 620.328, 548.558, 484.027, 426.115, 374.246, 327.886, 286.539, 249.743, 217.075, 188.139,
                162.575, 140.048, 120.251, 102.903, 87.7463, 74.5446, 63.0833, 53.1669, 44.6178, 37.2752, 30.9936, 25.6421,
                21.103, 17.2708, 14.0513, 11.3605, 9.1241, 7.27616, 5.75878, 4.52114, 3.51886, 2.7134, 2.07144, 1.56432,
                1.16757, 0.860398, 0.625271, 0.44752, 0.314968, 0.2176, 0.147262, 0.0973877, 0.0627535, 0.0392628, 0.0237518,
                0.0138202, 0.0076843, 0.00404899, 0.002, 0};
        check(new KarrasSchedule(25), n25);
        check(new KarrasSchedule(50), n50);
        KarrasSchedule s = new KarrasSchedule(25);
        assertEquals(1.63777, s.cNoise(0), 5e-6);
        assertEquals(-1.55365, s.cNoise(24), 5e-6);
        assertEquals(700.000714, KarrasSchedule.initNoiseSigma(), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> new KarrasSchedule(0));
    }

    private static void check(KarrasSchedule s, double[] expected) {
        assertEquals(expected.length - 1, s.steps());
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], s.sigma(i), Math.max(1e-9, Math.abs(expected[i]) * 6e-6), "sigma " + i);
    }

    /** Spec 1.2 / 5.3: the demo's settings are the defaults: 50 steps, guidance 1.0 at frame 0 to 5.0 at frame 13, 14 frames, c_in scaling. */
    @Test
    void defaultsAreTheDemosSettings() {
        SamplingOptions o = SamplingOptions.defaults();
        assertEquals(50, o.steps());
        assertEquals(14, o.frames());
        assertEquals(1.0, o.guidanceMin());
        assertEquals(5.0, o.guidanceMax());
        assertTrue(o.scaleInput(), "x / sqrt(sigma^2 + 1) at inference (5.2)");
        assertTrue(o.cfg());
    }

    @Test
    void guidanceRampsPerFrameAndValidates() {
        SamplingOptions o = SamplingOptions.defaults();
        assertEquals(1.0, o.guidance(0));
        assertEquals(5.0, o.guidance(13));
        assertEquals(1 + 4.0 * 6 / 13, o.guidance(6), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> o.withSteps(0));
        assertThrows(IllegalArgumentException.class, () -> o.withGuidance(0.5));
        assertThrows(IllegalArgumentException.class, () -> o.withGuidance(Double.NaN));
        assertFalse(o.withGuidance(1).cfg());
        // spec 5.3: CFG is enabled iff g_max > 1 (utils.sample_from_noise: do_classifier_free_guidance = max_guidance > 1),
        // whatever g_min is: a ramp falling to 1 runs the conditional branch alone
        assertFalse(new SamplingOptions(3, 5, 1, 0, 4, true).cfg(), "g_max = 1: no CFG, even with g_min 5");
        assertTrue(new SamplingOptions(3, 1, 1.5, 0, 4, true).cfg());
        assertEquals(2.5, new SamplingOptions(3, 2.5, 4, 0, 1, true).guidance(0), "one frame: the ramp's start");
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(3, Double.POSITIVE_INFINITY, 2, 0, 4, true));
        assertThrows(IllegalArgumentException.class, () -> o.withGuidance(Double.POSITIVE_INFINITY));
        for (double[] g : new double[][]{{Double.POSITIVE_INFINITY, 2}, {1, Double.POSITIVE_INFINITY}}) {
            String msg = assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(3, g[0], g[1], 0, 4, true)).getMessage();
            assertTrue(msg.startsWith("guidance must be finite and >= 1"), msg);
        }
        // the largest guidance taken, at either end of the ramp; past it refused
        assertEquals(SamplingOptions.MAX_GUIDANCE, o.withGuidance(SamplingOptions.MAX_GUIDANCE).guidanceMax());
        assertEquals(SamplingOptions.MAX_GUIDANCE, new SamplingOptions(3, SamplingOptions.MAX_GUIDANCE, 1, 0, 4, true).guidanceMin());
        assertThrows(IllegalArgumentException.class, () -> o.withGuidance(Math.nextUp(SamplingOptions.MAX_GUIDANCE)));
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(3, Math.nextUp(SamplingOptions.MAX_GUIDANCE), 1, 0, 4, true));
        assertEquals(SamplingOptions.MAX_STEPS, o.withSteps(SamplingOptions.MAX_STEPS).steps());
        assertThrows(IllegalArgumentException.class, () -> o.withSteps(SamplingOptions.MAX_STEPS + 1));
        assertEquals(1, o.withFrames(1).frames());
        assertEquals(SamplingOptions.MAX_FRAMES, o.withFrames(SamplingOptions.MAX_FRAMES).frames());
        assertThrows(IllegalArgumentException.class, () -> o.withFrames(0));
        assertThrows(IllegalArgumentException.class, () -> o.withFrames(SamplingOptions.MAX_FRAMES + 1));
    }

    /**
     * Two steps without guidance, by hand (spec 5.2): sigmas 700, 0.002, 0; each step feeds the UNet x / sqrt(sigma^2 + 1)
     * at c_noise(sigma), x0 = -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1), then x += (x - x0) / sigma * (next - sigma),
     * or x0 itself at the last step. Each op's result is rounded to F32, the sampler's state type: the first step's
     * update cancels x (about 700) down to x0 (about 1), so that rounding shows at 1e-4.
     */
    @Test
    void twoEulerStepsMatchAHandComputation() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3);
             GradMode.Guard g = GradMode.noGrad()) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            double[] got = new EulerSampler(unet).sample(z, clip, d, new SamplingOptions(2, 1.0, 1.0, 42, 3, true), null).toDoubleArray();

            KarrasSchedule sched = new KarrasSchedule(2);
            double[] x = F.scale(EulerSampler.initialNoise(CPU, DType.F32, 1, 3, 8, 8, 4, 42), KarrasSchedule.initNoiseSigma()).toDoubleArray();
            for (int i = 0; i < 2; i++) {
                double sigma = sched.sigma(i), next = sched.sigma(i + 1), norm = Math.sqrt(sigma * sigma + 1);
                double[] xIn = new double[x.length];
                for (int j = 0; j < x.length; j++) xIn[j] = (float) (x[j] / norm);
                double[] v = unet.forward(new UNetInputs(Tensor.of(CPU, DType.F32, new int[]{1, 3, 8, 8, 4}, xIn),
                        Tensor.of(CPU, DType.F32, new int[]{1}, sched.cNoise(i)), z, clip, d, null), UNetOptions.INFERENCE).toDoubleArray();
                for (int j = 0; j < x.length; j++) {
                    float x0 = (float) (-sigma / norm * v[j]) + (float) (x[j] / (sigma * sigma + 1));
                    x[j] = i == 1 ? x0 : (float) (x[j] + (float) ((float) ((float) (x[j] - x0) / sigma) * (next - sigma)));
                }
            }
            for (int j = 0; j < x.length; j++) assertEquals(x[j], got[j], 1e-6 * Math.max(1, Math.abs(x[j])), "element " + j);
        }
    }

    /** Guided sampling of a batch of two without drags: each row is what that row's inputs give alone. */
    @Test
    void aGuidedBatchWithoutDragsSamplesEachRowAsAlone() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 2, 8, 8, 4), clip = randn(2, 2, 1, 16);
            SamplingOptions o = new SamplingOptions(2, 1.0, 2.0, 5, 3, true);
            double[] both = new EulerSampler(unet).sample(z, clip, null, o, null).toDoubleArray();
            double[] first = new EulerSampler(unet).sample(z.narrow(0, 0, 1), clip.narrow(0, 0, 1), null, o, null).toDoubleArray();
            for (int j = 0; j < first.length; j++) assertEquals(first[j], both[j], 1e-5 * Math.max(1, Math.abs(first[j])), "element " + j);
        }
    }

    @Test
    void oneCfgStepEqualsSeparateConditionalAndUnconditionalCalls() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3);
             GradMode.Guard g = GradMode.noGrad()) {
            ps.parameters().forEach((k, p) -> { if (k.contains("flow_convs") && k.contains("conv_out")) CPU.fillRandom(p.value(), RandomKind.NORMAL, 9, 0); });
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            SamplingOptions o = new SamplingOptions(1, 1.0, 3.0, 42, 3, true);
            Tensor got = new EulerSampler(unet).sample(z, clip, d, o, null);

            Tensor x = EulerSampler.initialNoise(CPU, DType.F32, 1, 3, 8, 8, 4, 42);   // the sampler's noise
            double sigma = new KarrasSchedule(1).sigma(0);
            x = F.scale(x, KarrasSchedule.initNoiseSigma());
            Tensor xIn = F.scale(x, 1 / Math.sqrt(sigma * sigma + 1));
            Tensor t = Tensor.of(CPU, DType.F32, new int[]{1}, new KarrasSchedule(1).cNoise(0));
            double[] vc = unet.forward(new UNetInputs(xIn, t, z, clip, d, null), UNetOptions.INFERENCE).toDoubleArray();
            double[] vu = unet.forward(new UNetInputs(xIn, t, Tensor.zeros(CPU, DType.F32, 1, 8, 8, 4), Tensor.zeros(CPU, DType.F32, 1, 1, 16),
                    Tensor.zeros(CPU, DType.F32, 1, 3, 5, 4), null), UNetOptions.INFERENCE).toDoubleArray();
            double[] xv = x.toDoubleArray(), out = got.toDoubleArray();
            int perFrame = 8 * 8 * 4;
            for (int i = 0; i < out.length; i++) {
                double gf = 1.0 + 2.0 * (i / perFrame) / 2;                  // linspace(1, 3, 3)
                double v = vu[i] + gf * (vc[i] - vu[i]);
                double x0 = v * (-sigma / Math.sqrt(sigma * sigma + 1)) + xv[i] / (sigma * sigma + 1);
                assertEquals(x0, out[i], 1e-5 * Math.max(1, Math.abs(x0)), "element " + i);
            }
        }
    }

    @Test
    void sameSeedSameLatentsOtherSeedOthers() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            SamplingOptions o = new SamplingOptions(3, 1.0, 2.0, 7, 3, true);
            int[] calls = {0};
            double[] a = new EulerSampler(unet).sample(z, clip, d, o, (done, total) -> calls[0]++).toDoubleArray();
            double[] b = new EulerSampler(unet).sample(z, clip, d, o, null).toDoubleArray();
            double[] c = new EulerSampler(unet).sample(z, clip, d, o.withSeed(8), null).toDoubleArray();
            assertEquals(3, calls[0]);
            assertArrayEquals(a, b);
            assertFalse(Arrays.equals(a, c));
            for (double v : a) assertFalse(Double.isNaN(v));
        }
    }

    /** Each step's latents replace the previous ones: a long sample holds one state, not one per step. */
    @Test
    void samplingHoldsTheSameMemoryAtEveryStep() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            long[] after = new long[6];
            new EulerSampler(unet).sample(z, clip, d, new SamplingOptions(6, 1.0, 2.0, 7, 3, true), (done, total) -> after[done - 1] = CPU.bytesInUse());
            for (int i = 2; i < after.length; i++) assertEquals(after[1], after[i], "bytes in use after step " + (i + 1) + " vs step 2");
        }
    }

    /** The demo's noise for a seed: torch.randn((B, F, C, h, w)) after torch.manual_seed, moved channels-last. */
    @Test
    void initialNoiseIsTorchsForTheSeedInChannelsLastOrder() {
        try (Scope s = Scope.open()) {
            int b = 2, f = 3, c = 4, h = 5, w = 6;
            double[] x = EulerSampler.initialNoise(CPU, DType.F32, b, f, h, w, c, 1234).toDoubleArray();
            float[] torch = new TorchCpuGenerator(1234).normal(b * f * c * h * w);
            for (int bi = 0; bi < b; bi++)
                for (int fi = 0; fi < f; fi++)
                    for (int ci = 0; ci < c; ci++)
                        for (int y = 0; y < h; y++)
                            for (int xi = 0; xi < w; xi++)
                                assertEquals(torch[(((bi * f + fi) * c + ci) * h + y) * w + xi], x[((((bi * f + fi) * h + y) * w + xi) * c) + ci], 0);
        }
    }

    /** A bf16 UNet: the sampler's state and arithmetic stay F32 (diffusers' scheduler upcasts the sample), only the UNet runs in bf16. */
    @Test
    void theSamplerKeepsF32StateForALowPrecisionUNet() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.BF16, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4).to(DType.BF16), clip = randn(2, 1, 1, 16).to(DType.BF16);
            Tensor out = new EulerSampler(unet).sample(z, clip, drags(), new SamplingOptions(2, 1.0, 2.0, 7, 3, true), null);
            assertEquals(DType.F32, out.dtype());
            long finer = Arrays.stream(out.toDoubleArray()).filter(v -> (Float.floatToRawIntBits((float) v) & 0xFFFF) != 0).count();
            assertTrue(finer > out.numel() / 2, finer + " of " + out.numel() + " latents carry more than bf16's precision");
        }
    }
}
