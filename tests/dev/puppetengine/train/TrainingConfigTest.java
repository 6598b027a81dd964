package dev.puppetengine.train;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which parameters a run trains. */
class TrainingConfigTest {
    private static TrainingConfig with(String trainable) {
        return new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, 1, 0, 0, false, trainable, true, 1, 1);
    }

    @Test
    void trainableSelections() {
        assertTrue(with("all").isTrainable("encoder.conv_in.weight"));
        TrainingConfig dec = with("decoder");
        assertTrue(dec.isTrainable("decoder.up_blocks.0.resnets.0.spatial_res_block.conv1.weight"));
        assertFalse(dec.isTrainable("encoder.conv_in.weight"));
        assertFalse(dec.isTrainable("quant_conv.weight"));
        TrainingConfig da = with("drag-attention");
        assertTrue(da.isTrainable("down_blocks.0.flow_convs.0.conv_out.weight"));
        assertTrue(da.isTrainable("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"));
        assertTrue(da.isTrainable("up_blocks.1.drag_token_mlps.0.2.weight"));
        assertTrue(da.isTrainable("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"));
        assertFalse(da.isTrainable("down_blocks.0.resnets.0.spatial_res_block.conv1.weight"));
        assertFalse(da.isTrainable("down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight"));
        assertThrows(IllegalArgumentException.class, () -> with("some"));
    }

    /** NaN and infinite settings train a model of NaN weights and still exit 0: refused up front (NaN compares false to everything). */
    @Test
    void refusesNonFiniteAndNegativeSettings() {
        double nan = Double.NaN, inf = Double.POSITIVE_INFINITY;
        for (double lr : new double[]{nan, inf, 0, -1e-4})
            assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, lr, false, 0, 1, 0, 0, false, "all", true, 1, 1), "lr " + lr);
        for (double wd : new double[]{nan, inf, -1})
            assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, 1e-4, true, wd, 1, 0, 0, false, "all", true, 1, 1), "wd " + wd);
        for (double clip : new double[]{nan, inf, -1})
            assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, clip, 0, 0, false, "all", true, 1, 1), "clip " + clip);
        for (double ema : new double[]{nan, 1, -0.1})
            assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, 1, 0, ema, false, "all", true, 1, 1), "ema " + ema);
        TrainingConfig.InvalidSetting warmup = assertThrows(TrainingConfig.InvalidSetting.class,
                () -> new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, 1, -3, 0, false, "all", true, 1, 1));
        assertEquals("warmup_steps", warmup.field());                       // the commands name their option with this
        assertEquals("must be >= 0, got -3", warmup.requirement());
        assertEquals("warmup_steps must be >= 0, got -3", warmup.getMessage());
        new TrainingConfig(1, 1, 1, 1, 1e-4, true, 0.01, 0, 5, 0.999, false, "all", true, 1, 1);   // the edges that are fine
    }

    /** Each count must be at least 1: batch size, accumulation, steps, checkpoint_every, keep_checkpoints. */
    @Test
    void refusesZeroCounts() {
        assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 0, 1, 1, 1e-4, false, 0, 1, 0, 0, false, "all", true, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 0, 1, 1e-4, false, 0, 1, 0, 0, false, "all", true, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 0, 1e-4, false, 0, 1, 0, 0, false, "all", true, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, 1, 0, 0, false, "all", true, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingConfig(1, 1, 1, 1, 1e-4, false, 0, 1, 0, 0, false, "all", true, 1, 0));
    }

    /** The optimiser gets the run's lr, decay, AdamW switch, clipping and warm-up, with the reference's betas and eps. */
    @Test
    void adamSettingsComeFromTheConfig() {
        TrainingConfig c = new TrainingConfig(1, 1, 1, 1, 3e-4, true, 0.02, 0.5, 7, 0, false, "all", true, 1, 1);
        assertEquals(new Adam.Settings(3e-4, 0.9, 0.999, 1e-8, 0.02, true, 0.5, 7), c.adam());
    }

    /** The selection returned is exactly the parameters isTrainable names, and exactly they now collect gradients. */
    @Test
    void selectTrainableMarksExactlyTheSelection() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CpuBackend.get(), DType.F32, 1)) {
            ps.requireGrad(k -> true);                     // a store trained before with everything: the narrower selection wins
            TrainingConfig da = with("drag-attention");
            Map<String, Tensor> sel = da.selectTrainable(ps);
            assertTrue(sel.size() > 0 && sel.size() < ps.parameters().size(), sel.size() + " of " + ps.parameters().size());
            ps.parameters().forEach((k, p) -> {
                assertEquals(da.isTrainable(k), sel.containsKey(k), k);
                assertEquals(da.isTrainable(k), p.value().requiresGrad(), k);
                if (sel.containsKey(k)) assertSame(p.value(), sel.get(k), k);
            });
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> with("decoder").selectTrainable(ps));
            assertTrue(e.getMessage().startsWith("trainable 'decoder' selects none of the " + ps.parameters().size() + " parameters"), e.getMessage());
        }
    }
}
