package dev.puppetengine.testing;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.Locale;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradient checkpointing of a model (UNet, VAE, CLIP): the backward of {@code sum(output(checkpoint) * r)} runs plain,
 * then checkpointed. The named parameters' gradients must agree to float64 rounding (same function, other summation
 * order), and the checkpointed peak of tensor memory must stay under 3/4 of the plain one (it is equal when the flag
 * is ignored). Prints both peaks.
 */
public final class CheckpointingCheck {
    private CheckpointingCheck() {}

    public static void sameGradientsLessMemory(String what, ParameterStore ps, List<String> names, Tensor r, Function<Boolean, Tensor> output) {
        CpuBackend cpu = CpuBackend.get();
        long[] peak = new long[2];
        double[][][] grads = new double[2][][];
        for (int run = 0; run < 2; run++) {
            ps.zeroGrad();
            long base = cpu.bytesInUse();
            cpu.resetPeak();
            try (Scope t = Scope.open()) {
                Autograd.backward(F.sum(F.mul(output.apply(run == 1), r)));
            }
            peak[run] = cpu.peakBytes() - base;
            grads[run] = names.stream().map(n -> ps.parameters().get(n).value().grad().toDoubleArray()).toArray(double[][]::new);
        }
        for (int i = 0; i < names.size(); i++) assertArrayEquals(grads[0][i], grads[1][i], 1e-9, names.get(i));
        System.out.printf(Locale.ROOT, "%s peak tensor memory during forward+backward: %d KiB plain, %d KiB checkpointed%n", what, peak[0] / 1024, peak[1] / 1024);
        assertTrue(peak[1] < peak[0] * 0.75, what + ": checkpointing should cut peak memory: " + peak[0] + " -> " + peak[1]);
    }
}
