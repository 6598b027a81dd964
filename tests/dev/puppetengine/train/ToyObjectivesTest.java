package dev.puppetengine.train;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.LatentDistribution;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;
import dev.puppetengine.train.data.synthetic.ProgressListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The toy model's other objectives, by their formulas, with the networks called directly (as EdmLossTest calls the UNet): the
 * VAE's Charbonnier reconstruction of a window of frames from the posterior means plus kl_weight times the KL to N(0, I); the
 * image encoder's MSE between its head's prediction and the frame's scaled VAE latent. Both in F64, on 32 x 32 clips of 4 frames.
 */
class ToyObjectivesTest {
    static final CpuBackend CPU = CpuBackend.get();
    static final int FRAMES = 4;

    @TempDir
    static Path tmp;
    static ClipDataset data;

    @BeforeAll
    static void clips() throws Exception {
        SyntheticDataset.generate(tmp.resolve("clips"), 3, 21, 32, FRAMES, ProgressListener.NONE);
        data = ClipDataset.open(tmp.resolve("clips"));
    }

    private static double[] values(Tensor t) { return t.to(DType.F64).toDoubleArray(); }

    /** Where the window of batch position i starts at micro-step {@code micro}. */
    private static int start(long seed, long micro, int i, int window) {
        return (int) (Philox.uniform(seed, Streams.offset(micro, Streams.SIGMA), i) * (FRAMES - window + 1));
    }

    @Test
    void theVaeLossIsCharbonnierOfTheMeansDecodingPlusWeightedKl() throws Exception {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(4));
        int window = 2;
        long seed = 7, micro = 5;
        int[] items = {2, 0};
        int[] starts = {start(seed, micro, 0, window), start(seed, micro, 1, window)};
        assertTrue(starts[0] != starts[1] && Math.max(starts[0], starts[1]) > 0, "the draws must tell windows apart: " + starts[0] + ", " + starts[1]);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F64, 3)) {
            ps.requireGrad(k -> true);
            VaeObjective objective = new VaeObjective(vae, ps, data, window, 0.25, seed);
            assertEquals(data.trainCount(), objective.size());
            double got = objective.loss(items, micro, false).item();

            List<RgbImage> frames = new ArrayList<>();
            for (int i = 0; i < items.length; i++)
                for (int f = starts[i]; f < starts[i] + window; f++) frames.add(data.read(items[i]).frame(f));
            double expected;
            try (GradMode.Guard g = GradMode.noGrad()) {
                Tensor x = ImageTensors.toTensor(CPU, frames).to(DType.F64);
                LatentDistribution q = vae.encode(x);
                double[] px = values(x), rec = values(vae.decode(q.mean(), window)), mu = values(q.mean()), lv = values(q.logvar());
                double charbonnier = 0, kl = 0;
                for (int i = 0; i < px.length; i++) charbonnier += Math.sqrt((rec[i] - px[i]) * (rec[i] - px[i]) + 1e-6) / px.length;
                for (int i = 0; i < mu.length; i++) kl += 0.5 * (mu[i] * mu[i] + Math.exp(lv[i]) - 1 - lv[i]) / mu.length;
                assertTrue(kl > 1e-3 * charbonnier, "the KL term must show: " + kl + " vs " + charbonnier);
                expected = charbonnier + 0.25 * kl;
            }
            assertEquals(expected, got, 1e-12 * expected);

            Autograd.backward(objective.loss(items, micro, false));   // every weight trains: the encoder's get gradients too
            for (String k : List.of("encoder.conv_in.weight", "quant_conv.weight", "decoder.conv_in.weight"))
                assertTrue(ps.parameters().get(k).value().grad() != null, k + " has a gradient");
            ps.parameters().values().forEach(prm -> prm.value().setGrad(null));

            ps.requireGrad(k -> k.startsWith("decoder."));   // --decoder-only: the frozen encoder runs without a graph, the same loss
            Tensor frozen = new VaeObjective(vae, ps, data, window, 0.25, seed).loss(items, micro, false);
            assertEquals(got, frozen.item(), 1e-12 * got);
            Autograd.backward(frozen);
            assertTrue(ps.parameters().get("decoder.conv_in.weight").value().grad() != null && ps.parameters().get("encoder.conv_in.weight").value().grad() == null);
            assertNotEquals(got, new VaeObjective(vae, ps, data, window, 0, seed).loss(items, micro, false).item());
        }
    }

    @Test
    void theVaeObjectiveRefusesAWindowOrKlWeightOutOfRange() throws Exception {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(4));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(vae, CPU, DType.F32, 3)) {
            for (int window : new int[]{0, FRAMES + 1})
                assertEquals("window must be in 1.." + FRAMES + ", got " + window,
                        assertThrows(IllegalArgumentException.class, () -> new VaeObjective(vae, ps, data, window, 1e-6, 1)).getMessage());
            for (double kl : new double[]{-1e-9, Double.NaN, Double.POSITIVE_INFINITY})
                assertEquals("KL weight must be a finite number >= 0, got " + kl,
                        assertThrows(IllegalArgumentException.class, () -> new VaeObjective(vae, ps, data, 2, kl, 1)).getMessage());
            new VaeObjective(vae, ps, data, 1, 0, 1);          // the edges that are fine
            new VaeObjective(vae, ps, data, FRAMES, 0, 1);
        }
    }

    @Test
    void theImageEncodersLossIsTheHeadsMseToTheScaledLatent() throws Exception {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(4));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(16, 8, 8));
        long seed = 9, micro = 3;
        int[] items = {1, 2};
        try (Scope s = Scope.open(); ParameterStore vw = ParameterStore.initialize(vae, CPU, DType.F64, 3);
             ParameterStore cw = ParameterStore.initialize(clip, CPU, DType.F64, 4)) {
            ImageEncoderFit fit = new ImageEncoderFit(clip, vae, data, seed);
            fit.attachHead(cw);
            assertEquals(data.trainCount(), fit.size());
            Tensor w = cw.parameters().get(ImageEncoderFit.HEAD + ".weight").value(), b = cw.parameters().get(ImageEncoderFit.HEAD + ".bias").value();
            int out = 4 * 4 * 4;                                 // the 32 x 32 frame's 4 x 4 x 4 latent
            assertEquals(List.of(out, 8), List.of(w.shape()[0], w.shape()[1]));
            double got = fit.loss(items, micro, false).item();

            double sum = 0;
            int[] picked = new int[items.length];
            try (GradMode.Guard g = GradMode.noGrad()) {
                for (int i = 0; i < items.length; i++) {
                    picked[i] = (int) (Philox.uniform(seed, Streams.offset(micro, Streams.SIGMA), i) * FRAMES);
                    RgbImage frame = data.read(items[i]).frame(picked[i]);
                    double[] z = values(vae.encodeMean(ImageTensors.toTensor(CPU, List.of(frame)).to(DType.F64)));
                    double[] e = values(clip.embed(ClipPreprocess.toTensor(CPU, frame, 16).to(DType.F64)));
                    double[] wv = values(w), bv = values(b);
                    for (int o = 0; o < out; o++) {
                        double y = bv[o];
                        for (int k = 0; k < 8; k++) y += wv[o * 8 + k] * e[k];
                        double d = y - vae.scalingFactor() * z[o];
                        sum += d * d;
                    }
                }
            }
            assertTrue(picked[0] != picked[1] || picked[0] > 0, "the draws must pick frames other than the first: " + picked[0] + ", " + picked[1]);
            assertEquals(sum / (items.length * out), got, 1e-12 * got);
        }
    }
}
