package dev.puppetengine.train;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Spec 1.3 step 6 / 4.1: gradients accumulate over the micro-steps, then one Adam step and one EMA update
 * (train.py steps its EMA when the micro-step counter is a multiple of the accumulation, i.e. once per optimiser step),
 * ema = decay * ema + (1 - decay) * w, starting from the model's weights; the EMA covers every parameter.
 */
class TrainerEmaCadenceTest {
    @TempDir
    Path tmp;

    @Test
    void theEmaStepsOncePerOptimiserStepNotPerMicroStep() throws Exception {
        Linear lin = new Linear(2, 1, true);
        double decay = 0.5;
        int accumulation = 3, steps = 2;
        TrainingConfig cfg = new TrainingConfig(5, 1, accumulation, steps, 0.1, false, 0, 0, 0, decay, false, "all", true, 100, 1);
        List<double[]> after = new ArrayList<>();
        double[] initial;
        int[] micro = {0};
        Path run = tmp.resolve("run");
        try (RunDirectory dir = RunDirectory.lock(run); Scope s = Scope.open();
             ParameterStore ps = ParameterStore.initialize(lin, CpuBackend.get(), DType.F64, 3)) {
            initial = weights(ps);
            Objective objective = new Objective() {
                public int size() { return 1; }
                public Tensor loss(int[] items, long microStep, boolean checkpointing) {
                    micro[0]++;
                    return F.mean(lin.forward(Tensor.of(CpuBackend.get(), DType.F64, new int[]{1, 2}, 1.0, -2.0)));
                }
            };
            Trainer t = new Trainer(dir, objective, ps, "{}", cfg);
            t.run(new Trainer.Listener() {
                public void step(Trainer.Progress p) { after.add(weights(ps)); }
            });
        }
        assertEquals(steps * accumulation, micro[0]);
        assertEquals(steps, after.size());
        double[] ema = initial.clone();
        for (double[] w : after)
            for (int i = 0; i < ema.length; i++) ema[i] = decay * ema[i] + (1 - decay) * w[i];
        Path ckpt = TrainingCheckpoint.latest(run);
        try (SafetensorsReader r = SafetensorsReader.open(ckpt.resolve(TrainingCheckpoint.EMA)); Scope s = Scope.open()) {
            double[] got = concat(r.load("weight", CpuBackend.get()).toDoubleArray(), r.load("bias", CpuBackend.get()).toDoubleArray());
            assertArrayEquals(ema, got, 1e-12);
        }
    }

    private static double[] weights(ParameterStore ps) {
        return concat(ps.parameters().get("weight").value().toDoubleArray(), ps.parameters().get("bias").value().toDoubleArray());
    }

    private static double[] concat(double[] a, double[] b) {
        double[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
