package dev.puppetengine.train;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OptimizerTest {
    static final CpuBackend CPU = CpuBackend.get();
    /** The reference's optimiser: Adam, lr 1e-5, betas (0.9, 0.999), eps 1e-8, no decay, clip at 1, no warm-up. */
    static final Adam.Settings REFERENCE = new Adam.Settings(1e-5, 0.9, 0.999, 1e-8, 0, false, 1.0, 0);

    private static Tensor leaf(DType t, double... v) {
        return Autograd.requireGrad(Tensor.of(CPU, t, new int[]{v.length}, v));
    }

    private static void setGrad(Tensor p, double... g) {
        if (p.grad() != null) p.grad().close();
        p.setGrad(Tensor.of(CPU, DType.F64, new int[]{g.length}, g));
    }

    /** torch.optim.Adam's update for one scalar, written out independently. */
    private static double[] torchAdam(double p, double[] grads, double lr, double b1, double b2, double eps, double wd, boolean decoupled) {
        double m = 0, v = 0;
        for (int t = 1; t <= grads.length; t++) {
            double g = grads[t - 1];
            if (wd != 0 && !decoupled) g += wd * p;
            if (wd != 0 && decoupled) p *= 1 - lr * wd;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
            p -= lr / bc1 * m / (Math.sqrt(v) / Math.sqrt(bc2) + eps);
        }
        return new double[]{p, m, v};
    }

    @Test
    void adamAndAdamWMatchHandComputedSteps() {
        for (boolean adamW : new boolean[]{false, true}) {
            try (Scope s = Scope.open()) {
                Tensor p = leaf(DType.F64, 1.5, -0.25);
                var set = new Adam.Settings(0.1, 0.9, 0.999, 1e-8, 0.01, adamW, 0, 0);
                try (Adam opt = new Adam(Map.of("p", p), set)) {
                    double[][] g = {{0.5, -2}, {-0.3, 0.7}, {0.2, 0.1}};
                    for (double[] gi : g) {
                        setGrad(p, gi);
                        opt.step(1);
                        assertNull(p.grad(), "gradients are cleared after a step");
                    }
                    double[] e0 = torchAdam(1.5, new double[]{0.5, -0.3, 0.2}, 0.1, 0.9, 0.999, 1e-8, 0.01, adamW);
                    double[] e1 = torchAdam(-0.25, new double[]{-2, 0.7, 0.1}, 0.1, 0.9, 0.999, 1e-8, 0.01, adamW);
                    assertArrayEquals(new double[]{e0[0], e1[0]}, p.toDoubleArray(), 1e-12);
                    assertArrayEquals(new double[]{e0[1], e1[1]}, opt.firstMoments().get("p").toDoubleArray(), 1e-12);
                    assertArrayEquals(new double[]{e0[2], e1[2]}, opt.secondMoments().get("p").toDoubleArray(), 1e-12);
                    assertEquals(3, opt.stepCount());
                }
            }
        }
    }

    @Test
    void accumulatedGradientsAreAveragedAndClippedByGlobalNorm() {
        try (Scope s = Scope.open()) {
            Tensor a = leaf(DType.F64, 0, 0), b = leaf(DType.F64, 0);
            var set = new Adam.Settings(1.0, 0.0, 0.0, 0, 0, false, 1.0, 0);   // beta 0: step = lr * g / |g| per element
            try (Adam opt = new Adam(Map.of("a", a, "b", b), set)) {
                setGrad(a, 6, 0);            // two micro-steps summed: mean grad (3, 0), (4) -> norm 5
                setGrad(b, 8);
                Adam.StepResult r = opt.step(2);
                assertEquals(5.0, r.gradNorm(), 1e-12);
                assertEquals(1.0 / (5 + 1e-6), r.clipScale(), 1e-12);
                double c = r.clipScale();                // beta 0: the moments are the gradient the step used, averaged and clipped
                assertArrayEquals(new double[]{3 * c, 0}, opt.firstMoments().get("a").toDoubleArray(), 1e-15);
                assertArrayEquals(new double[]{4 * c}, opt.firstMoments().get("b").toDoubleArray(), 1e-15);
                assertArrayEquals(new double[]{16 * c * c}, opt.secondMoments().get("b").toDoubleArray(), 1e-14);
            }
        }
    }

    /**
     * fp16 loss scaling: non-finite gradients skip the step and halve the scale, but not past the smallest normal double:
     * gradients that stay non-finite that far are divergence, refused as without scaling (not a scale of 0 checkpointed).
     */
    @Test
    void aLossScaleThatWouldUnderflowIsDivergence() {
        try (Scope s = Scope.open()) {
            Tensor a = leaf(DType.F64, 1);
            try (Adam opt = new Adam(Map.of("a", a), REFERENCE)) {
                LossScaler scaler = new LossScaler();
                scaler.restore(new LossScaler.State(4 * Double.MIN_NORMAL, 0));
                setGrad(a, Double.POSITIVE_INFINITY);
                assertTrue(scaler.step(opt, 1).skipped());
                assertEquals(2 * Double.MIN_NORMAL, scaler.scale());
                setGrad(a, Double.NaN);
                assertTrue(scaler.step(opt, 1).skipped());
                assertEquals(Double.MIN_NORMAL, scaler.scale());
                setGrad(a, Double.NaN);
                Adam.NonFiniteException e = assertThrows(Adam.NonFiniteException.class, () -> scaler.step(opt, 1));
                assertTrue(e.getMessage().startsWith("gradient norm is NaN at every loss scale down to 2.2250738585072014E-308"), e.getMessage());
                assertEquals(0, opt.stepCount());
            }
        }
    }

    @Test
    void warmupRampsTheLearningRate() {
        try (Scope s = Scope.open()) {
            Tensor a = leaf(DType.F64, 0);
            try (Adam opt = new Adam(Map.of("a", a), new Adam.Settings(1e-3, 0.9, 0.999, 1e-8, 0, false, 1.0, 4))) {
                assertEquals(0.25e-3, opt.lrAt(1), 1e-15);
                assertEquals(1e-3, opt.lrAt(4), 1e-15);
                assertEquals(1e-3, opt.lrAt(9), 1e-15);
            }
        }
    }

    @Test
    void lowPrecisionParametersUpdateTheirFp32Master() {
        try (Scope s = Scope.open()) {
            Tensor p = leaf(DType.BF16, 1.0);
            try (Adam opt = new Adam(Map.of("p", p), new Adam.Settings(1e-4, 0.9, 0.999, 1e-8, 0, false, 0, 0))) {
                for (int i = 0; i < 3; i++) {
                    setGrad(p, 1.0);
                    opt.step(1);
                }
                double master = opt.masters().get("p").item();
                assertEquals(1.0 - 3e-4, master, 1e-7);          // the fp32 master moves by lr per step
                assertEquals(1.0, p.item());                      // bf16 cannot represent 0.9997: rounds to 1
            }
        }
    }

    /** The rounded master is written back: with lr 0.1 the fp32 master goes 1 -> 0.9, which bf16 holds as 0.8984375. */
    @Test
    void aLowPrecisionParameterTakesItsMastersRoundedValue() {
        try (Scope s = Scope.open()) {
            Tensor p = leaf(DType.BF16, 1.0);
            try (Adam opt = new Adam(Map.of("p", p), new Adam.Settings(0.1, 0.9, 0.999, 1e-8, 0, false, 0, 0))) {
                setGrad(p, 1.0);
                opt.step(1);
                assertEquals((float) 0.9, opt.masters().get("p").item(), 1e-7);
                assertEquals(0.8984375, p.item());
            }
        }
    }

    /**
     * Parameters without a gradient keep their weights and moments (no decay either, as torch skips them), and the
     * clipping norm counts only the gradients there are; a step with no gradient at all changes nothing.
     */
    @Test
    void parametersWithoutAGradientAreLeftAlone() {
        try (Scope s = Scope.open()) {
            Tensor a = leaf(DType.F64, 1, 2), b = leaf(DType.F64, 3);
            try (Adam opt = new Adam(Map.of("a", a, "b", b), new Adam.Settings(0.1, 0.9, 0.999, 1e-8, 0.01, true, 10, 0))) {
                assertEquals(Set.of("a", "b"), opt.parameters().keySet());
                assertEquals(0, opt.step(1).gradNorm());
                assertArrayEquals(new double[]{1, 2}, a.toDoubleArray());
                assertArrayEquals(new double[]{3}, b.toDoubleArray());
                setGrad(a, 3, 4);
                assertEquals(5, opt.step(1).gradNorm(), 1e-12);
                assertNotEquals(1, a.toDoubleArray()[0]);
                assertArrayEquals(new double[]{3}, b.toDoubleArray());
                assertArrayEquals(new double[]{0}, opt.firstMoments().get("b").toDoubleArray());
                assertArrayEquals(new double[]{0}, opt.secondMoments().get("b").toDoubleArray());
            }
        }
    }

    /**
     * A step frees the gradients it applied and what it computed on the way (the norm's accumulator); closing frees the
     * masters and moments and drops a gradient still pending; the EMA frees its copy.
     */
    @Test
    void stepsAndCloseGiveBackTheirMemory() {
        try (Scope s = Scope.open()) {
            Tensor p = leaf(DType.BF16, 1.0, 2.0);
            long bare = CPU.bytesInUse();
            try (Adam opt = new Adam(Map.of("p", p), REFERENCE)) {
                long ready = CPU.bytesInUse();
                setGrad(p, 0.5, -0.5);
                opt.step(1);
                assertEquals(ready, CPU.bytesInUse(), "after a step");
                setGrad(p, 1, 1);
            }
            assertNull(p.grad());
            assertEquals(bare, CPU.bytesInUse(), "after close");
            new Ema(Map.of("p", p), 0.9).close();
            assertEquals(bare, CPU.bytesInUse(), "after the EMA's close");
        }
    }

    /**
     * An optimizer or EMA that cannot make all its state (on a GPU: out of memory part-way through a large model's
     * moments; here a closed parameter after an open one) frees what it had made.
     */
    @Test
    void aFailedConstructionFreesWhatItMade() {
        try (Scope s = Scope.open()) {
            Tensor p = leaf(DType.BF16, 1.0, 2.0), gone = leaf(DType.BF16, 3.0, 4.0);
            gone.close();
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("p", p);
            params.put("gone", gone);
            long bare = CPU.bytesInUse();
            assertThrows(IllegalStateException.class, () -> new Adam(params, REFERENCE));
            assertEquals(bare, CPU.bytesInUse(), "after a failed Adam");
            assertThrows(IllegalStateException.class, () -> new Ema(params, 0.9));
            assertEquals(bare, CPU.bytesInUse(), "after a failed EMA");
        }
    }

    @Test
    void nonFiniteGradientsStopTheStep() {
        try (Scope s = Scope.open()) {
            Tensor p = leaf(DType.F64, 1.0);
            try (Adam opt = new Adam(Map.of("p", p), REFERENCE)) {
                setGrad(p, Double.NaN);
                assertThrows(Adam.NonFiniteException.class, () -> opt.step(1));
            }
        }
    }

    @Test
    void emaStartsAtTheModelAndFollowsIt() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.of(CPU, DType.F32, new int[]{2}, 1.0, 2.0);
            try (Ema ema = new Ema(Map.of("w", w), 0.9)) {
                assertArrayEquals(new double[]{1, 2}, ema.weights().get("w").toDoubleArray());
                w.copyFrom(new double[]{2, 0});
                ema.update(Map.of("w", w));
                assertArrayEquals(new double[]{1.1, 1.8}, ema.weights().get("w").toDoubleArray(), 1e-6);
            }
        }
    }

    /**
     * fp16 loss scaling's step: gradients of losses scaled by 4 over 2 micro-steps are unscaled as they are averaged, so the
     * step equals the unscaled one on gradients 4 times smaller (powers of two: the same bits), its norm that of the gradients
     * Adam uses. Gradients that are not finite skip the step: weights, moments and count unchanged, the gradients cleared, and
     * the result says so with the lr the step would have had.
     */
    @Test
    void aScaledStepUnscalesAndAnOverflowedOneIsSkipped() {
        try (Scope s = Scope.open()) {
            Tensor a = leaf(DType.F64, 1.5, -0.25), b = leaf(DType.F64, 1.5, -0.25);
            var set = new Adam.Settings(0.1, 0.9, 0.999, 1e-8, 0, false, 1.0, 4);
            try (Adam scaled = new Adam(Map.of("p", a), set); Adam plain = new Adam(Map.of("p", b), set)) {
                setGrad(a, 4 * 0.5, 4 * -2);
                setGrad(b, 0.5, -2);
                Adam.StepResult rs = scaled.scaledStep(2, 4), rp = plain.step(2);
                assertEquals(Math.sqrt(0.25 * 0.25 + 1), rs.gradNorm(), 1e-15);
                assertEquals(rp, rs);
                assertArrayEquals(b.toDoubleArray(), a.toDoubleArray());
                assertArrayEquals(plain.secondMoments().get("p").toDoubleArray(), scaled.secondMoments().get("p").toDoubleArray());

                double[] w = a.toDoubleArray(), m = scaled.firstMoments().get("p").toDoubleArray(), v = scaled.secondMoments().get("p").toDoubleArray();
                setGrad(a, Double.POSITIVE_INFINITY, 1);
                Adam.StepResult skipped = scaled.scaledStep(1, 65536);
                assertEquals(new Adam.StepResult(1, Double.POSITIVE_INFINITY, 1.0, scaled.lrAt(2), true), skipped);
                assertEquals(0.05, skipped.lr(), 1e-15, "the lr of Adam's next step, 2 of the 4 warm-up steps");
                assertNull(a.grad(), "the overflowed gradients are cleared");
                assertEquals(1, scaled.stepCount());
                assertArrayEquals(w, a.toDoubleArray());
                assertArrayEquals(m, scaled.firstMoments().get("p").toDoubleArray());
                assertArrayEquals(v, scaled.secondMoments().get("p").toDoubleArray());

                setGrad(b, Double.NaN, 1);   // unscaled: not finite is divergence, refused changing nothing
                assertThrows(Adam.NonFiniteException.class, () -> plain.step(1));
                assertEquals(1, plain.stepCount());
            }
        }
    }

    /**
     * The scaler: torch's defaults for fp16 weights (2^16, growth every 2000 good steps), none for the others (the loss as it is,
     * Adam's plain step, nothing checkpointed); a growth interval below 1 refused; interval 1 doubles after every good step; a
     * checkpoint's state continues (a dynamic scaler only), a state of null leaving the initial scale.
     */
    @Test
    void theLossScalerScalesOnlyFp16AndContinuesFromAState() {
        try (Scope s = Scope.open()) {
            LossScaler fp16 = LossScaler.forWeights(DType.F16);
            assertTrue(fp16.dynamic());
            assertEquals(65536, fp16.scale());
            assertEquals(new LossScaler.State(65536, 0), fp16.state());
            Tensor loss = Tensor.of(CPU, DType.F32, new int[]{1}, 0.75);
            assertEquals(0.75 * 65536, fp16.scaled(loss).item());
            fp16.restore(null);
            assertEquals(65536, fp16.scale(), "no loss_scale in the checkpoint (a bf16 run resumed in fp16): the initial scale");
            fp16.restore(new LossScaler.State(1024, 7));
            assertEquals(new LossScaler.State(1024, 7), fp16.state());
            for (DType dt : List.of(DType.BF16, DType.F32, DType.F64)) {
                LossScaler none = LossScaler.forWeights(dt);
                assertFalse(none.dynamic(), dt.name());
                assertEquals(1, none.scale());
                assertSame(loss, none.scaled(loss), dt.name());
                assertNull(none.state(), dt.name());
                none.restore(new LossScaler.State(1024, 7));
                assertEquals(1, none.scale(), dt.name());
                assertNull(none.state());
            }
            for (int bad : new int[]{0, -1})
                assertEquals("growth interval must be >= 1, got " + bad, assertThrows(IllegalArgumentException.class, () -> new LossScaler(bad)).getMessage());
            LossScaler every = new LossScaler(1);
            Tensor a = leaf(DType.F64, 1);
            try (Adam opt = new Adam(Map.of("a", a), REFERENCE)) {
                for (double expected : new double[]{131072, 262144}) {
                    setGrad(a, 1);
                    assertFalse(every.step(opt, 1).skipped());
                    assertEquals(expected, every.scale());
                    assertEquals(new LossScaler.State(expected, 0), every.state());
                }
                setGrad(a, Double.NaN);
                LossScaler none = LossScaler.none();
                assertThrows(Adam.NonFiniteException.class, () -> none.step(opt, 1), "without scaling non-finite gradients stop the run");
                assertEquals(2, opt.stepCount());
            }
        }
    }
}
