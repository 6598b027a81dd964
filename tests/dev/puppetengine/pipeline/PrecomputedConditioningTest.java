package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.ModelInput;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sampling from precomputed conditioning (DragAMove's cond_latent and embedding) instead of encoding the image. */
class PrecomputedConditioningTest {
    private static final CpuBackend CPU = CpuBackend.get();

    /** A side x side x channels latent needs that many values, and an embedding at least one; one of each is the least. */
    @Test
    void conditioningChecksItsShape() {
        Conditioning least = new Conditioning(1, 1, new float[]{0.5f}, new float[]{2});
        assertArrayEquals(new float[]{0.5f}, least.latent());
        assertArrayEquals(new float[]{2}, least.embedding());
        String msg = assertThrows(IllegalArgumentException.class, () -> new Conditioning(2, 3, new float[11], new float[4])).getMessage();
        assertEquals("conditioning: a 2x2x3 latent needs 12 values, got 11; embedding of 4", msg);
        assertThrows(IllegalArgumentException.class, () -> new Conditioning(0, 4, new float[0], new float[4]), "no side");
        assertThrows(IllegalArgumentException.class, () -> new Conditioning(2, 0, new float[0], new float[4]), "no channels");
        assertThrows(IllegalArgumentException.class, () -> new Conditioning(2, 1, new float[4], new float[0]), "no embedding");
    }

    @Test
    void theModelsOwnEncodingGivesTheSameVideoAndOtherConditioningAnother() {
        try (PuppetMaster pm = new PuppetMaster(LoadedModel.random(ModelPresets.named("toy"), CPU, DType.F32, 4))) {
            int side = pm.resolution();
            byte[] rgb = new byte[side * side * 3];
            for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7 % 251);
            RgbImage image = new RgbImage(side, side, rgb);
            Conditioning own;
            try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
                float[] z = pm.model().vae.encodeMean(ImageTensors.toTensor(CPU, List.of(ModelInput.prepare(image, side)))).toFloatArray();
                float[] e = pm.model().clip.embed(ClipPreprocess.toTensor(CPU, ModelInput.prepare(image, side), pm.model().clip.config().imageSize())).toFloatArray();
                own = new Conditioning(side / 8, 4, z, e);
            }
            SamplingOptions o = SamplingOptions.defaults().withSteps(2).withFrames(3);
            List<DragPath> drags = List.of(DragPath.line(0.3, 0.4, 0.5, 0.4));
            List<byte[]> encoded = pixels(pm.sample(image, drags, o, null).frames());

            float[] z = own.latent();
            for (int i = 0; i < z.length; i++) z[i] += 0.5f;
            List<byte[]> other = pixels(pm.sample(image, new Conditioning(own.side(), 4, z, own.embedding()), drags, o, null).frames());
            assertFalse(Arrays.equals(encoded.get(2), other.get(2)), "other conditioning, another video");

            String msg = assertThrows(IllegalArgumentException.class,
                    () -> pm.sample(image, new Conditioning(32, 4, new float[32 * 32 * 4], new float[1024]), drags, o, null)).getMessage();
            assertTrue(msg.contains("a 32x32x4 latent and a 1024-wide embedding; this model takes 8x8x4 and 64"), msg);

            // spec 5.3: CFG runs iff g_max > 1, so a ramp falling from 5 to 1 samples as no guidance at all (as the
            // reference's sample_from_noise does), while a rising one guides
            List<byte[]> none = pixels(pm.sample(image, drags, new SamplingOptions(2, 1, 1, 0, 3, true), null).frames());
            List<byte[]> falling = pixels(pm.sample(image, drags, new SamplingOptions(2, 5, 1, 0, 3, true), null).frames());
            List<byte[]> rising = pixels(pm.sample(image, drags, new SamplingOptions(2, 1, 5, 0, 3, true), null).frames());
            for (int f = 0; f < 3; f++) assertArrayEquals(none.get(f), falling.get(f), "frame " + f);
            assertFalse(Arrays.equals(none.get(2), rising.get(2)));

            // last, as it spoils the encoders: nothing is encoded from given conditioning, so with their weights NaN it still
            // gives the same video (this asserted 0 ms of encoding stages, which were 1 ms on a busy machine: the copies of
            // the given tensors are timed there)
            pm.model().imageEncoderWeights().parameters().values().forEach(p -> p.value().backend().fill(p.value(), Double.NaN));
            pm.model().vaeWeights().parameters().forEach((k, p) -> { if (k.startsWith("encoder.") || k.startsWith("quant_conv.")) p.value().backend().fill(p.value(), Double.NaN); });
            assertTrue(pm.sample(image, drags, o, null).nonFinite() > 0, "the encoders are spoilt");
            PuppetMaster.Result given = pm.sample(image, own, drags, o, null);
            for (int f = 0; f < 3; f++)
                assertArrayEquals(encoded.get(f), given.frames().get(f).pixels(), "frame " + f + ": the same conditioning, computed here or by sample");

            pm.close();
            assertEquals("this PuppetMaster is closed (its model's weights were freed)",
                    assertThrows(IllegalStateException.class, () -> pm.sample(image, drags, o, null)).getMessage());
        }
    }

    /**
     * Spec 1.2 steps 5-7 and 5.4 as one composition: the video sample returns is the Euler sampler's latents for the
     * conditioning, divided by the VAE's scaling factor, decoded with num_frames = F in one call, then
     * clamp((x + 1) / 2, 0, 1) and round(x 255) per value.
     */
    @Test
    void theVideoIsTheSamplersLatentsDividedByTheScalingFactorAndDecodedAtOnce() {
        try (PuppetMaster pm = new PuppetMaster(LoadedModel.random(ModelPresets.named("toy"), CPU, DType.F32, 4))) {
            int side = pm.resolution(), h = side / 8, frames = 3;
            RgbImage image = new RgbImage(side, side, new byte[side * side * 3]);
            float[] z = new float[h * h * 4], e = new float[pm.model().unet.config().crossAttentionDim()];
            for (int i = 0; i < z.length; i++) z[i] = (float) Math.sin(i);
            for (int i = 0; i < e.length; i++) e[i] = (float) Math.cos(i);
            SamplingOptions o = SamplingOptions.defaults().withSteps(1).withFrames(frames);
            List<DragPath> drags = List.of(DragPath.line(0.3, 0.4, 0.6, 0.5));
            List<RgbImage> got = pm.sample(image, new Conditioning(h, 4, z, e), drags, o, null).frames();
            try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
                var zt = Tensor.of(CPU, DType.F32, new int[]{1, h, h, 4}, z);
                var ctx = Tensor.of(CPU, DType.F32, new int[]{1, 1, e.length}, e);
                var dt = Tensor.of(CPU, DType.F32, new int[]{1, frames, 5, 4}, DragPath.tensor(drags, frames));
                var latents = new EulerSampler(pm.model().unet).sample(zt, ctx, dt, o, null);
                double factor = pm.model().vae.scalingFactor();
                var video = pm.model().vae.decode(F.scale(
                        F.reshape(latents, frames, h, h, 4), 1 / factor), frames);
                double[] v = video.toDoubleArray();
                int per = side * side * 3;
                for (int f = 0; f < frames; f++) {
                    byte[] px = got.get(f).pixels();
                    for (int i = 0; i < per; i++) {
                        float unit = Math.min(Math.max((float) v[f * per + i] / 2f + 0.5f, 0f), 1f);
                        assertEquals((int) Math.rint(unit * 255f), px[i] & 0xff, "frame " + f + " value " + i);
                    }
                }
            }
        }
    }

    private static List<byte[]> pixels(List<RgbImage> frames) {
        return frames.stream().map(RgbImage::pixels).toList();
    }

    @Test
    void channelsFirstLatentsAreMovedChannelsLast() {
        float[] nchw = new float[2 * 3 * 3];
        for (int i = 0; i < nchw.length; i++) nchw[i] = i;
        Conditioning c = Conditioning.fromChannelsFirst(nchw, 2, 3, new float[]{1});
        assertEquals(nchw[9 + 4], c.latent()[4 * 2 + 1], 0, "channel 1 at pixel 4");
        assertEquals(nchw[4], c.latent()[4 * 2], 0, "channel 0 at pixel 4");
    }
}
