package dev.puppetengine.autograd;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Saved tensors belong to no scope: a graph must free them whether or not its backward runs to the end. */
class AutogradMemoryTest {
    static final CpuBackend CPU = CpuBackend.get();

    /** x -> square (saves x) -> sum -> a node whose backward throws: the nodes it never reached free their saved tensors too. */
    @Test
    void aBackwardThatFailsMidwayFreesWhatTheRestOfTheGraphSaved() {
        long before = CPU.bytesInUse();
        try (Scope s = Scope.open()) {
            Tensor y = F.sum(F.square(x()));
            Tensor root = Autograd.attach(Tensor.zeros(CPU, DType.F32, 1), new Node("fails", y) {
                @Override
                protected Tensor[] backward(Tensor gy) { throw new IllegalStateException("simulated failure"); }
            });
            assertThrows(IllegalStateException.class, () -> Autograd.backward(root));
        }
        assertEquals(before, CPU.bytesInUse());
    }

    @Test
    void aReleasedGraphFreesWhatItSaved() {
        long before = CPU.bytesInUse();
        try (Scope s = Scope.open()) {
            Autograd.release(F.sum(F.square(x())));
        }
        assertEquals(before, CPU.bytesInUse());
    }

    private static Tensor x() {
        return Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{64}, new double[64]));
    }
}
