package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.Adam;
import dev.puppetengine.train.data.ClipDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train-vae's latent scaling factor, 1/std of the latents: never an infinite or NaN factor written into a model. */
class TrainVaeScalingFactorTest {
    @Test
    void constantLatentsAreRefusedNotGivenAHugeOrNanFactor(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "3", "--size", "64", "--frames", "2"));
        try (LoadedModel m = LoadedModel.load(TinyModel.write(dir.resolve("m0")), CpuBackend.get(), DType.F32)) {
            ClipDataset ds = ClipDataset.open(data);
            assertTrue(TrainVaeCommand.scalingFactor(m, ds) > 0);
            // every posterior mean the same value (an encoder collapsed by training): E[x^2] - E[x]^2 rounds to a tiny
            // positive or negative number there, which gave a factor in the millions or NaN
            fill(m.vaeWeights().parameters().get("quant_conv.weight").value(), 0);
            fill(m.vaeWeights().parameters().get("quant_conv.bias").value(), 0.3);
            String msg = assertThrows(Adam.NonFiniteException.class, () -> TrainVaeCommand.scalingFactor(m, ds)).getMessage();
            assertTrue(msg.startsWith("the trained encoder's latents have std 0.0 over "), msg);
        }
    }

    @Test
    void anInfiniteScalingFactorIsRefusedByTheConfig(@TempDir Path dir) throws Exception {
        try (LoadedModel m = LoadedModel.load(TinyModel.write(dir.resolve("m0")), CpuBackend.get(), DType.F32)) {
            for (double f : new double[]{Double.POSITIVE_INFINITY, Double.NaN, 0}) {
                String msg = assertThrows(IllegalArgumentException.class, () -> m.vae.config().withScalingFactor(f)).getMessage();
                assertEquals("VAE config: scaling_factor must be a finite number > 0, got " + f, msg);
            }
        }
    }

    private static void fill(Tensor t, double v) {
        double[] a = new double[(int) t.numel()];
        Arrays.fill(a, v);
        t.copyFrom(a);
    }
}
