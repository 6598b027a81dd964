package dev.puppetengine.pipeline;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A sample whose decoded values are not finite says so (its frames alone would only look black). */
class NonFiniteOutputTest {
    @Test
    void nanWeightsGiveABlankResultThatSaysWhy() {
        try (PuppetMaster pm = new PuppetMaster(LoadedModel.random(ModelPresets.named("toy"), CpuBackend.get(), DType.F32, 4))) {
            int side = pm.resolution();
            RgbImage image = new RgbImage(side, side, new byte[side * side * 3]);
            SamplingOptions o = SamplingOptions.defaults().withSteps(2).withFrames(2);
            List<DragPath> drags = List.of(DragPath.line(0.3, 0.4, 0.5, 0.4));
            PuppetMaster.Result ok = pm.sample(image, drags, o, null);
            assertEquals(0, ok.nonFinite());
            assertFalse(ok.blank());
            assertNull(ok.nonFiniteNote());

            Tensor bias = pm.model().unetWeights().parameters().get("conv_out.bias").value();
            double[] nan = new double[(int) bias.numel()];
            Arrays.fill(nan, Double.NaN);
            bias.copyFrom(nan);
            PuppetMaster.Result bad = pm.sample(image, drags, o, null);
            assertEquals(2L * side * side * 3, bad.nonFinite());
            assertTrue(bad.blank());
            assertTrue(bad.nonFiniteNote().startsWith("every decoded value was NaN or infinite: the model's weights"), bad.nonFiniteNote());
        }
    }

    @Test
    void aFewNonFiniteValuesAreCountedNotBlank() {
        RgbImage f = new RgbImage(2, 2, new byte[12]);
        PuppetMaster.Result r = new PuppetMaster.Result(List.of(f, f), f, null, 5);
        assertFalse(r.blank());
        assertTrue(r.nonFiniteNote().startsWith("5 decoded values were NaN or infinite"), r.nonFiniteNote());
        assertTrue(new PuppetMaster.Result(List.of(f, f), f, null, 24).blank());
        assertTrue(r.nonFiniteNote().endsWith("(try bf16 or fp32: --dtype, or the dtype the model is loaded in)"), "API users have no --dtype alone");
        ArrayList<RgbImage> mine = new ArrayList<>(List.of(f, f));
        PuppetMaster.Result copied = new PuppetMaster.Result(mine, f, null, 24);
        mine.add(f);   // the caller's list changes; the result does not
        assertTrue(copied.blank() && copied.frames().size() == 2);
        assertThrows(UnsupportedOperationException.class, () -> copied.frames().clear());
    }
}
