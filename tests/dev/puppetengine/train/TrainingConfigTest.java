package dev.puppetengine.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
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
        assertFalse(da.isTrainable("down_blocks.0.resnets.0.spatial_res_block.conv1.weight"));
        assertThrows(IllegalArgumentException.class, () -> with("some"));
    }
}
