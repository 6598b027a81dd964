package dev.puppetengine.bench;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.WatchedBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class OpCaseTest {
    /**
     * The Backend calls of a case's timed op, run on the CPU (its inputs made first, uncounted): the method and its
     * arguments, a tensor as its shape, numbers as they are, anything else as _.
     */
    static List<String> timedCalls(OpCase c) {
        List<String> calls = new ArrayList<>();
        Backend watched = WatchedBackend.of(CpuBackend.get(), (m, args, next) -> {
            if (m.getDeclaringClass() == Backend.class)
                calls.add(m.getName() + "(" + Arrays.stream(args == null ? new Object[0] : args).map(a -> a instanceof Tensor t ? Arrays.toString(t.shape())
                        : a == null || a instanceof Number ? String.valueOf(a) : "_").collect(Collectors.joining(", ")) + ")");
            return next.run();
        });
        try (Scope s = Scope.open()) {
            Runnable op = c.setup().prepare(watched);
            calls.clear();
            op.run();
        }
        return calls;
    }

    /** Operands are standard normal, not whatever the allocation held (a GEMM of zeros can time faster), and new per call. */
    @Test
    void randomOperandsAreStandardNormalAndFreshPerCall() {
        try (Scope s = Scope.open()) {
            double[] a = OpCase.random(CpuBackend.get(), DType.F32, 100, 100).toDoubleArray();
            double[] b = OpCase.random(CpuBackend.get(), DType.F32, 100, 100).toDoubleArray();
            double sum = 0, squares = 0;
            for (double v : a) { sum += v; squares += v * v; }
            assertEquals(0, sum / a.length, 0.05);          // 5 standard errors of the mean of 10^4 samples
            assertEquals(1, squares / a.length, 0.06);      // 4 of their mean square (each square's variance is 2)
            assertFalse(Arrays.equals(a, b));
        }
    }
}
