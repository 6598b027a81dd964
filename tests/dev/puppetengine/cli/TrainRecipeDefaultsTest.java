package dev.puppetengine.cli;

import dev.puppetengine.train.Adam;
import dev.puppetengine.train.TrainingConfig;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spec 4.1/4.2: what `train` runs when given only the README's recipe flags for the full model (--lr 1e-5
 * --accumulation 64 --ema 0.9999): torch.optim.Adam (not AdamW) with betas (0.9, 0.999), eps 1e-8, no weight decay, no
 * warm-up; global grad-norm clip 1.0; batch 1; seed 1024; every UNet parameter trained; the UNet fed c_in x (the spec's
 * recommended default; --unscaled-input is the public script's literal variant). Parsed only, nothing runs.
 */
class TrainRecipeDefaultsTest {
    private static TrainingConfig parse(String... extra) {
        TrainCommand cmd = new TrainCommand();
        String[] base = {"--model", "m", "--data", "d", "--out", "o", "--lr", "1e-5", "--accumulation", "64", "--ema", "0.9999"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        new CommandLine(cmd).parseArgs(args);
        return cmd.training.config(cmd.trainable, !cmd.unscaledInput);
    }

    @Test
    void theReferenceRecipeGivesTheSpecsOptimiserAndLoss() {
        TrainingConfig c = parse();
        assertEquals(new Adam.Settings(1e-5, 0.9, 0.999, 1e-8, 0, false, 1.0, 0), c.adam());
        assertEquals(1, c.batchSize());
        assertEquals(64, c.accumulation());
        assertEquals(0.9999, c.emaDecay());
        assertEquals(1024, c.seed());
        assertEquals("all", c.trainable());
        assertTrue(c.applyCIn(), "c_in applied unless --unscaled-input (spec 4.2's recommendation)");
        assertFalse(parse("--unscaled-input").applyCIn());
    }
}
