package dev.puppetengine.train;

import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EdmLossTest {
    static final CpuBackend CPU = CpuBackend.get();

    private static Tensor randn(long seed, int... shape) {
        Tensor t = CPU.empty(DType.F64, shape);
        CPU.fillRandom(t, RandomKind.NORMAL, seed, 0);
        return t;
    }

    @Test
    void sigmasFollowTheLogNormal() {
        double[] s = EdmLoss.sigmas(3, 0, 20000);
        double mean = 0, sq = 0;
        for (double x : s) { mean += Math.log(x); sq += Math.log(x) * Math.log(x); }
        mean /= s.length;
        assertEquals(0.7, mean, 0.03);
        assertEquals(1.6, Math.sqrt(sq / s.length - mean * mean), 0.03);
        for (int i = 0; i < 3; i++)       // exactly the SIGMA stream's draws (a run resumes only under the same stream layout)
            assertEquals(Math.exp(0.7 + 1.6 * Philox.normal(3, Streams.offset(0, Streams.SIGMA), i)), s[i]);
    }

    /** conv_out zeroed: the UNet returns v = 0 exactly, in any dtype. */
    private static void zeroOutput(ParameterStore ps) {
        CPU.fill(ps.parameters().get("conv_out.weight").value(), 0);
        CPU.fill(ps.parameters().get("conv_out.bias").value(), 0);
    }

    /** With conv_out zeroed the UNet returns v = 0, so the loss has a closed form in sigma and eps. */
    @Test
    void lossEqualsTheClosedFormWhenVIsZero() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 1);
             GradMode.Guard g = GradMode.noGrad()) {
            zeroOutput(ps);
            Tensor x0 = randn(5, 2, 2, 8, 8, 4);
            EdmLoss.Batch batch = new EdmLoss.Batch(x0, randn(6, 2, 8, 8, 4), randn(7, 2, 1, 16), Tensor.zeros(CPU, DType.F32, 2, 2, 5, 4));
            long seed = 11, step = 4;
            double got = new EdmLoss(unet, true).loss(batch, seed, step, false).item();

            double[] sigma = EdmLoss.sigmas(seed, step, 2), x = x0.toDoubleArray();
            int per = x.length / 2;
            double sum = 0;
            for (int i = 0; i < x.length; i++) {
                double sg = sigma[i / per];
                double eps = Philox.normal(seed, Streams.offset(step, Streams.NOISE), i);
                double d = (x[i] + sg * eps) / (sg * sg + 1);
                sum += (1 + 1 / (sg * sg)) * (d - x[i]) * (d - x[i]);
            }
            assertEquals(sum / x.length, got, 1e-9 * Math.abs(got));
        }
    }

    /**
     * A BF16 UNet's loss is still computed in F32 (v = 0 again, so the closed form applies): rounding x0 + sigma eps
     * to bf16 alone would put the loss off by far more than the 1e-5 asserted here (checked below), since at small
     * sigma D - x0 is small and weighted by 1 + 1/sigma^2.
     */
    @Test
    void aBf16UNetsLossIsComputedInF32() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.BF16, 1);
             GradMode.Guard g = GradMode.noGrad()) {
            zeroOutput(ps);
            Tensor x0 = randn(5, 2, 2, 8, 8, 4).to(DType.F32);
            EdmLoss.Batch batch = new EdmLoss.Batch(x0, randn(6, 2, 8, 8, 4).to(DType.BF16), randn(7, 2, 1, 16).to(DType.BF16),
                    Tensor.zeros(CPU, DType.F32, 2, 2, 5, 4));
            long seed = 11, small = 0;
            while (Math.min(EdmLoss.sigmas(seed, small, 2)[0], EdmLoss.sigmas(seed, small, 2)[1]) > 0.05) small++;   // a small sigma: where it matters
            long step = small;
            double got = new EdmLoss(unet, true).loss(batch, seed, step, false).item();

            double[] sigma = EdmLoss.sigmas(seed, step, 2), x = x0.toDoubleArray();
            int per = x.length / 2;
            double exact = 0, noisyInBf16 = 0;
            for (int i = 0; i < x.length; i++) {
                double sg = sigma[i / per], lambda = 1 + 1 / (sg * sg);
                double noisy = (float) (x[i] + sg * Philox.normal(seed, Streams.offset(step, Streams.NOISE), i));
                double d = noisy / (sg * sg + 1), dBf16 = Tensor.of(CPU, DType.BF16, new int[]{1}, noisy).item() / (sg * sg + 1);
                exact += lambda * (d - x[i]) * (d - x[i]);
                noisyInBf16 += lambda * (dBf16 - x[i]) * (dBf16 - x[i]);
            }
            exact /= x.length;
            noisyInBf16 /= x.length;
            assertEquals(exact, got, 1e-5 * exact);
            assertTrue(Math.abs(noisyInBf16 - exact) > 1e-3 * exact, "the bound must tell F32 from bf16 arithmetic: " + noisyInBf16 + " vs " + exact);
            Tensor bf16Latents = x0.to(DType.BF16);
            assertThrows(IllegalArgumentException.class, () -> new EdmLoss(unet, true).loss(
                    new EdmLoss.Batch(bf16Latents, batch.condLatent(), batch.embedding(), batch.drags()), seed, step, false));
        }
    }

    /**
     * With a UNet that does not return zero: the loss is the closed form around what the UNet returns for c_in x at
     * c_noise = ln(sigma) / 4 (called here directly, with the same dropout draw), with c_skip and c_out applied to it;
     * without c_in the UNet sees x + sigma eps unscaled.
     */
    @Test
    void lossMatchesTheUNetsOutputForScaledInputs() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 1);
             GradMode.Guard g = GradMode.noGrad()) {
            CPU.fillRandom(ps.parameters().get("conv_out.weight").value(), RandomKind.NORMAL, 3, 0);
            CPU.fillRandom(ps.parameters().get("conv_out.bias").value(), RandomKind.NORMAL, 4, 0);
            Tensor x0 = randn(5, 2, 2, 8, 8, 4);
            EdmLoss.Batch batch = new EdmLoss.Batch(x0, randn(6, 2, 8, 8, 4), randn(7, 2, 1, 16), Tensor.zeros(CPU, DType.F32, 2, 2, 5, 4));
            long seed = 11, step = 4;
            double[] sigma = EdmLoss.sigmas(seed, step, 2), x = x0.toDoubleArray();
            int per = x.length / 2;
            for (boolean applyCIn : new boolean[]{true, false}) {
                double got = new EdmLoss(unet, applyCIn).loss(batch, seed, step, false).item();
                double[] noisy = new double[x.length], in = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    double sg = sigma[i / per];
                    noisy[i] = x[i] + sg * Philox.normal(seed, Streams.offset(step, Streams.NOISE), i);
                    in[i] = applyCIn ? noisy[i] / Math.sqrt(sg * sg + 1) : noisy[i];
                }
                double[] cNoise = {0.25 * Math.log(sigma[0]), 0.25 * Math.log(sigma[1])};
                double[] v = unet.forward(new UNetInputs(Tensor.of(CPU, DType.F64, x0.shape(), in), Tensor.of(CPU, DType.F32, new int[]{2}, cNoise),
                        batch.condLatent(), batch.embedding(), batch.drags(), null),
                        UNetOptions.training(seed, Streams.offset(step, Streams.DROPOUT), false)).toDoubleArray();
                double sum = 0;
                for (int i = 0; i < x.length; i++) {
                    double sg = sigma[i / per];
                    double d = noisy[i] / (sg * sg + 1) - sg / Math.sqrt(sg * sg + 1) * v[i];
                    sum += (1 + 1 / (sg * sg)) * (d - x[i]) * (d - x[i]);
                }
                assertEquals(sum / x.length, got, 1e-10 * Math.abs(got), "c_in " + applyCIn);
            }
        }
    }

    @Test
    void cInChangesWhatTheUNetSees() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 1);
             GradMode.Guard g = GradMode.noGrad()) {
            CPU.fillRandom(ps.parameters().get("conv_out.weight").value(), RandomKind.NORMAL, 3, 0);
            EdmLoss.Batch batch = new EdmLoss.Batch(randn(5, 1, 2, 8, 8, 4), randn(6, 1, 8, 8, 4), randn(7, 1, 1, 16), Tensor.zeros(CPU, DType.F32, 1, 2, 5, 4));
            double with = new EdmLoss(unet, true).loss(batch, 1, 0, false).item();
            double without = new EdmLoss(unet, false).loss(batch, 1, 0, false).item();
            assertNotEquals(with, without);
            assertTrue(Double.isFinite(with));
        }
    }
}
