package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.ImageEncoderFit;
import dev.puppetengine.train.VaeObjective;
import dev.puppetengine.train.data.ClipDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The toy's VAE and image-encoder objectives compute their loss in fp32 for bf16 weights (the API trains bf16). */
class TrainingLossDtypeTest {
    @Test
    void bf16WeightsGiveAnFp32Loss(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "64", "--frames", "2"));
        ClipDataset ds = ClipDataset.open(data);
        try (LoadedModel m = LoadedModel.load(TinyModel.write(dir.resolve("m0")), CpuBackend.get(), DType.BF16); Scope s = Scope.open()) {
            Tensor vae = new VaeObjective(m.vae, m.vaeWeights(), ds, 2, 1e-6, 1).loss(new int[]{0}, 0, false);
            ImageEncoderFit fit = new ImageEncoderFit(m.clip, m.vae, ds, 1);
            fit.attachHead(m.imageEncoderWeights());
            Tensor encoder = fit.loss(new int[]{0}, 0, false);
            for (Tensor loss : new Tensor[]{vae, encoder}) {
                assertEquals(DType.F32, loss.dtype());
                assertTrue(Double.isFinite(loss.toDoubleArray()[0]) && loss.toDoubleArray()[0] > 0);
            }
        }
    }
}
