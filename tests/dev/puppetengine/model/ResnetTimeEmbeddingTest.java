package dev.puppetengine.model;

import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.ParameterGradCheck;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.Function;

import static dev.puppetengine.testing.GradCheck.CPU;
import static dev.puppetengine.testing.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Where the resnets' time embedding enters: time_emb_proj(SiLU(temb)) is added to conv1's output at every pixel,
 * before norm2. So the block without the embedding, its conv1 bias raised by the projection (computed here by hand),
 * must give the same output. The UNet's gradient check cannot see a dropped embedding (a function without it has
 * consistent gradients too), and every resnet has both paths, so each block is checked on its own.
 */
class ResnetTimeEmbeddingTest {
    private final Random rng = new Random(21);

    @Test
    void resnetBlock2DAddsTheEmbeddingAfterConv1() {
        ResnetBlock2D block = new ResnetBlock2D(4, 6, 5, 1e-5, 2);
        Tensor h = randn(rng, 1, 3, 3, 4), siluTemb = randn(rng, 1, 5);
        assertEmbeddingIsConv1Bias(block, siluTemb, t -> block.forward(h, t));
    }

    /** The video's embedding row repeated for each of its 2 frames, as the UNet passes it. */
    @Test
    void temporalResnetBlockAddsTheEmbeddingAfterConv1() {
        TemporalResnetBlock block = new TemporalResnetBlock(4, 5, 1e-5, 2);
        Tensor x = randn(rng, 1, 2, 3, 3, 4), row = randn(rng, 1, 5);
        double[] r = row.toDoubleArray(), both = new double[10];
        System.arraycopy(r, 0, both, 0, 5);
        System.arraycopy(r, 0, both, 5, 5);
        Tensor siluTemb = Tensor.of(CPU, DType.F64, new int[]{2, 5}, both);
        assertEmbeddingIsConv1Bias(block, row, t -> block.forward(x, t == null ? null : siluTemb));
    }

    /** forward(embedding) against forward(null) with conv1.bias += time_emb_proj.weight . row + time_emb_proj.bias. */
    private void assertEmbeddingIsConv1Bias(Module block, Tensor row, Function<Tensor, Tensor> forward) {
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(block, CPU, DType.F64, 3)) {
            ParameterGradCheck.perturb(ps, rng, 0.2);
            double[] with = forward.apply(row).toDoubleArray();
            double[] w = value(ps, "time_emb_proj.weight"), bias = value(ps, "conv1.bias"), e = row.toDoubleArray();
            double[] raised = value(ps, "time_emb_proj.bias");
            for (int o = 0; o < raised.length; o++) {
                for (int j = 0; j < e.length; j++) raised[o] += w[o * e.length + j] * e[j];
                raised[o] += bias[o];
            }
            ps.parameters().get("conv1.bias").value().copyFrom(raised);
            assertArrayEquals(with, forward.apply(null).toDoubleArray(), 1e-12);
        }
    }

    private static double[] value(ParameterStore ps, String name) {
        return ps.parameters().get(name).value().toDoubleArray();
    }
}
