package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The CPU softmax against values known in closed form. No model runs it (attention has its own), so neither the
 * reference parity tests nor any other forward check reaches it: the gradient check only ties its backward to its
 * forward, and the op harness holds CUDA to this very forward.
 */
class SoftmaxReferenceTest {
    private static final CpuBackend CPU = CpuBackend.get();

    /** Rows over the last dim: exp(x_j) / sum_k exp(x_k), also where exp(x) itself overflows (logits near 1000). */
    @Test
    void rowsAreNormalisedExponentialsAlsoForLargeLogits() {
        double l2 = Math.log(2), l3 = Math.log(3);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(CPU, DType.F64, new int[]{3, 3}, 0, l2, l3, 1000, 1000 + l2, 1000 + l3, -7, -7, -7);
            assertArrayEquals(new double[]{1 / 6., 2 / 6., 3 / 6., 1 / 6., 2 / 6., 3 / 6., 1 / 3., 1 / 3., 1 / 3.},
                    CPU.softmax(x).toDoubleArray(), 1e-12);   // 1000 + ln 2 is rounded to 1.1e-13
            // a transposed view is read as its logical rows
            Tensor xt = Tensor.of(CPU, DType.F64, new int[]{2, 2}, 0, 5, l3, 5).transpose(0, 1);
            assertArrayEquals(new double[]{1 / 4., 3 / 4., 0.5, 0.5}, CPU.softmax(xt).toDoubleArray(), 1e-15);
        }
    }
}
