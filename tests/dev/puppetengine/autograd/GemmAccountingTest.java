package dev.puppetengine.autograd;

import dev.puppetengine.autograd.GemmRecorder.Epilogue;
import dev.puppetengine.autograd.GemmRecorder.Product;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puppetengine.testing.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What {@link FlopCount} and {@link GemmRecorder} see of F's matrix ops, forward and backward, on small odd shapes:
 * the exact FLOPs (bench's TFLOP/s and MFU) and each product's kind, pass, (batch, m, n, k), transposed operands,
 * bias and epilogue (bench gemm's case list). The model tests only compare totals between runs.
 */
class GemmAccountingTest {
    private static final DType T = DType.F64;
    private final Random rng = new Random(5);
    private Scope scope;

    @BeforeEach
    void open() {
        scope = Scope.open();
        FlopCount.start();
        GemmRecorder.start();
    }

    @AfterEach
    void close() {
        FlopCount.stop();
        GemmRecorder.stop();
        scope.close();
    }

    /** a (2, 3, 4) x b (4, 5), b broadcast over a's batch; backward: gy b^T (b^T a transposed view) and a^T gy. */
    @Test
    void matmulForwardAndBothGradients() {
        Tensor a = Autograd.requireGrad(randn(rng, 2, 3, 4)), b = Autograd.requireGrad(randn(rng, 4, 5));
        Tensor y = F.matmul(a, b);
        assertEquals(2L * 2 * 3 * 5 * 4, FlopCount.current());
        assertEquals(0, FlopCount.backward());
        Autograd.backward(y, randn(rng, 2, 3, 5));
        assertEquals(3 * 240, FlopCount.current());
        assertEquals(2 * 240, FlopCount.backward());
        assertEquals(Map.of(
                Product.gemm("matmul", "forward", T, 2, 3, 5, 4, false, false, false, Epilogue.NONE), 1,
                Product.gemm("matmul", "backward_input", T, 2, 3, 4, 5, false, true, false, Epilogue.NONE), 1,
                Product.gemm("matmul", "backward_weight", T, 2, 4, 5, 3, true, false, false, Epilogue.NONE), 1), GemmRecorder.stop());
        assertEquals(240, Product.gemm("matmul", "forward", T, 2, 3, 5, 4, false, false, false, Epilogue.NONE).flops());
    }

    /** Only the gradient asked for is computed and counted. */
    @Test
    void matmulCountsOnlyTheGradientsWanted() {
        Tensor a = Autograd.requireGrad(randn(rng, 3, 4)), b = randn(rng, 4, 5);
        Autograd.backward(F.matmul(a, b), randn(rng, 3, 5));
        assertEquals(120, FlopCount.backward());
        assertEquals(List.of("forward", "backward_input"), GemmRecorder.stop().keySet().stream().map(Product::pass).toList());
    }

    /** x (2, 3, 4) w (5, 4)^T + bias: one (6 x 4) (4 x 5) product, then gy w and gy^T x (a transposed 2-D view). */
    @Test
    void linearWithBiasAndResidual() {
        Tensor x = Autograd.requireGrad(randn(rng, 2, 3, 4)), w = Autograd.requireGrad(randn(rng, 5, 4));
        Tensor bias = Autograd.requireGrad(randn(rng, 5));
        Tensor y = F.linear(x, w, bias);
        assertEquals(2L * 6 * 5 * 4, FlopCount.current());
        Autograd.backward(y, randn(rng, 2, 3, 5));
        assertEquals(3 * 240, FlopCount.current());
        assertEquals(2 * 240, FlopCount.backward());
        assertEquals(Map.of(
                Product.gemm("linear", "forward", T, 1, 6, 5, 4, false, true, true, Epilogue.NONE), 1,
                Product.gemm("linear", "backward_input", T, 1, 6, 4, 5, false, false, false, Epilogue.NONE), 1,
                Product.gemm("linear", "backward_weight", T, 1, 5, 4, 6, true, false, false, Epilogue.NONE), 1), GemmRecorder.stop());

        GemmRecorder.start();
        try (GradMode.Guard g = GradMode.noGrad()) {
            F.linear(x, w, null, randn(rng, 2, 3, 5));
            F.linear(x, w, null, randn(rng, 2, 3, 5));
        }
        assertEquals(Map.of(Product.gemm("linear", "forward", T, 1, 6, 5, 4, false, true, false, Epilogue.RESIDUAL), 2),
                GemmRecorder.stop(), "no bias, a residual epilogue; the same product twice is counted, not listed twice");
    }

    /** Without gradients linearGeglu is one product with the gate in its epilogue: 2 m (2D) k FLOPs. */
    @Test
    void linearGegluFused() {
        Tensor x = randn(rng, 3, 4), w = randn(rng, 6, 4);
        F.linearGeglu(x, w, randn(rng, 6));
        assertEquals(2L * 3 * 6 * 4, FlopCount.current());
        assertEquals(Map.of(Product.gemm("linear", "forward", T, 1, 3, 6, 4, false, true, true, Epilogue.GEGLU), 1), GemmRecorder.stop());
    }

    /** Every pass of a convolution has the forward's count, 2 N Ho Wo Cout kh kw Cin; the record's own flops() agrees. */
    @Test
    void conv2dForwardAndBothGradients() {
        Tensor x = Autograd.requireGrad(randn(rng, 2, 5, 4, 2)), w = Autograd.requireGrad(randn(rng, 3, 3, 2, 2));
        ConvSpec spec = new ConvSpec(1, 2, 1, 1, 0, 1);   // output (2, 5, 2, 3)
        Tensor y = F.conv2d(x, w, randn(rng, 3), randn(rng, 2, 5, 2, 3), spec);
        long one = 2L * 2 * 5 * 2 * 3 * 3 * 2 * 2;
        assertEquals(one, FlopCount.current());
        Autograd.backward(y, randn(rng, 2, 5, 2, 3));
        assertEquals(3 * one, FlopCount.current());
        assertEquals(2 * one, FlopCount.backward());
        int[] xs = {2, 5, 4, 2}, ws = {3, 3, 2, 2};
        Product fwd = Product.conv("forward", T, xs, ws, spec, true, Epilogue.RESIDUAL);
        assertEquals(Map.of(fwd, 1,
                Product.conv("backward_input", T, xs, ws, spec, false, Epilogue.NONE), 1,
                Product.conv("backward_weight", T, xs, ws, spec, false, Epilogue.NONE), 1), GemmRecorder.stop());
        assertEquals(one, fwd.flops());
        assertTrue(fwd.isConv());
        assertFalse(fwd.isTemporal());

        GemmRecorder.start();
        F.conv2d(randn(rng, 1, 3, 3, 2), randn(rng, 3, 3, 3, 2), null, null, ConvSpec.of(1, 1));
        assertEquals(List.of(Product.conv("forward", T, new int[]{1, 3, 3, 2}, new int[]{3, 3, 3, 2}, ConvSpec.of(1, 1), false, Epilogue.NONE)),
                List.copyOf(GemmRecorder.stop().keySet()));
    }

    /** The temporal conv is a (3, 1) conv2d padded one frame each side, and only that is isTemporal. */
    @Test
    void temporalConvIsTheOnlyTemporalProduct() {
        F.temporalConv(randn(rng, 1, 4, 2, 3, 2), randn(rng, 5, 3, 1, 2), null, null);
        Product p = GemmRecorder.stop().keySet().iterator().next();
        assertTrue(p.isTemporal());
        assertEquals(2L * 4 * 6 * 5 * 3 * 1 * 2, p.flops());
        int[] x = {1, 4, 6, 2};
        for (Object[] c : new Object[][]{
                {new int[]{5, 2, 1, 2}, new ConvSpec(1, 1, 1, 1, 0, 0)}, {new int[]{5, 3, 2, 2}, new ConvSpec(1, 1, 1, 1, 0, 0)},
                {new int[]{5, 3, 1, 2}, new ConvSpec(1, 1, 0, 1, 0, 0)}, {new int[]{5, 3, 1, 2}, new ConvSpec(1, 1, 1, 0, 0, 0)},
                {new int[]{5, 3, 1, 2}, new ConvSpec(1, 1, 1, 1, 1, 0)}, {new int[]{5, 3, 1, 2}, new ConvSpec(1, 1, 1, 1, 0, 1)}})
            assertFalse(Product.conv("forward", T, x, (int[]) c[0], (ConvSpec) c[1], false, Epilogue.NONE).isTemporal());
        assertFalse(Product.square(T, 8).isConv());
        assertFalse(Product.square(T, 8).isTemporal());
        assertEquals(2L * 8 * 8 * 8, Product.square(T, 8).flops());
    }

    /** Attention: QK^T and PV forward (4 Lq Lk C per query batch), twice that in backward. */
    @Test
    void attentionForwardAndBackward() {
        Tensor q = Autograd.requireGrad(randn(rng, 2, 3, 4)), k = randn(rng, 1, 5, 4), v = randn(rng, 1, 5, 4);
        Tensor y = F.attention(q, k, v, 2, 0.5);
        long fwd = 4L * 2 * 3 * 5 * 4;
        assertEquals(fwd, FlopCount.current());
        Autograd.backward(y, randn(rng, 2, 3, 4));
        assertEquals(2 * fwd, FlopCount.backward());
        assertEquals(3 * fwd, FlopCount.stop());
        assertEquals(Map.of(), GemmRecorder.stop(), "attention is not a recorded GEMM");
    }

    /** Not started: nothing counted or recorded, and stop gives 0 / an empty map; adjust corrects the forward count. */
    @Test
    void offMeansNothingCounted() {
        FlopCount.stop();
        GemmRecorder.stop();
        Tensor a = Autograd.requireGrad(randn(rng, 3, 4));
        Autograd.backward(F.matmul(a, randn(rng, 4, 5)), randn(rng, 3, 5));
        assertEquals(0, FlopCount.current());
        assertEquals(0, FlopCount.backward());
        assertEquals(0, FlopCount.stop());
        assertEquals(Map.of(), GemmRecorder.stop());
        FlopCount.adjust(7);
        assertEquals(0, FlopCount.current());
        FlopCount.start();
        FlopCount.adjust(7);
        FlopCount.adjust(-2);
        assertEquals(5, FlopCount.current());
        assertEquals(0, FlopCount.backward());
    }
}
