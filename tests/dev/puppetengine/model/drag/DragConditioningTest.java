package dev.puppetengine.model.drag;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class DragConditioningTest {
    /**
     * A bf16 UNet still samples drag tokens at the float32 drags (spec 3.5): rounded to bf16, the spec's 11.1 target
     * x 0.563824 would become 0.5625, 0.04 of a cell off at r = 32.
     */
    @Test
    void pointsKeepFullPrecisionInABf16Model() {
        float u = 0.563824f, v = 0.265625f;   // at r = 32: px = 17.5424, py = 8 (a cell centre)
        float[] drags = {u, v, u, v, u, v, 0.25f, 0.75f};   // (B=1, F=2, K=1, 4): start, current target
        try (Scope s = Scope.open()) {
            DragConditioning dc = DragConditioning.build(drags, 1, 2, 1, Set.of(32), 32, CpuBackend.get(), DType.BF16);
            assertEquals(DType.F32, dc.start().dtype());
            assertEquals(DType.F32, dc.target().dtype());
            assertArrayEquals(new double[]{u, v, u, v}, dc.start().toDoubleArray(), 0);
            assertArrayEquals(new double[]{u, v, 0.25f, 0.75f}, dc.target().toDoubleArray(), 0);

            double[] oneHot = new double[2 * 32 * 32];                // bf16 features, 1 at (y 8, x 18) of each frame
            oneHot[8 * 32 + 18] = oneHot[32 * 32 + 8 * 32 + 18] = 1;
            Tensor h = Tensor.of(CpuBackend.get(), DType.BF16, new int[]{2, 32, 32, 1}, oneHot);
            double[] w = F.gridSamplePoints(h, dc.start()).toDoubleArray();
            double ax = u * 32.0f - 0.5f - 17;                     // the bilinear weight of x = 18
            assertEquals(Tensor.of(CpuBackend.get(), DType.BF16, new int[]{1}, ax).item(), w[0], 0, "weight " + ax + ", not 0.5");
        }
    }
}
