package dev.puppetengine.autograd;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Saved tensors belong to no scope: a graph must free them whether or not its backward runs to the end; F.chain relies on them. */
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

    /** A loss never backpropagated (the trainer's non-finite loss): the tape frees what its graph saved. */
    @Test
    void aTapeFreesAGraphThatIsNeverBackpropagated() {
        long before = CPU.bytesInUse();
        try (Scope s = Scope.open(); Autograd.Tape t = Autograd.tape()) {
            F.sum(F.square(x()));
        }
        assertEquals(before, CPU.bytesInUse());
    }

    /** A forward that throws after some ops recorded (a shape error, an out-of-memory) leaves no graph allocated. */
    @Test
    void aTapeFreesThePartialGraphOfAForwardThatThrows() {
        long before = CPU.bytesInUse();
        assertThrows(IllegalArgumentException.class, () -> {
            try (Scope s = Scope.open(); Autograd.Tape t = Autograd.tape()) {
                Tensor h = F.square(F.square(x()));
                F.add(h, Tensor.zeros(CPU, DType.F32, 3));   // 64 and 3 do not broadcast
            }
        });
        assertEquals(before, CPU.bytesInUse());
    }

    /** The recomputation inside a checkpoint's backward records too: when it fails, its partial graph goes with the tape. */
    @Test
    void aTapeFreesWhatAFailedCheckpointRecomputationRecorded() {
        long before = CPU.bytesInUse();
        boolean[] second = {false};
        try (Scope s = Scope.open(); Autograd.Tape t = Autograd.tape()) {
            Tensor y = F.checkpoint(in -> {
                Tensor h = F.square(F.square(in[0]));
                if (second[0]) throw new IllegalStateException("simulated failure in the recomputation");
                second[0] = true;
                return h;
            }, x());
            assertThrows(IllegalStateException.class, () -> Autograd.backward(F.sum(y)));
        }
        assertEquals(before, CPU.bytesInUse());
    }

    /**
     * A nested tape frees only its own nodes: the outer graph stays whole and backpropagates after the inner one closes,
     * and the outer tape records again (a graph left unpropagated after the inner one closed is freed with it).
     */
    @Test
    void anInnerTapeLeavesTheOuterGraphWhole() {
        long before = CPU.bytesInUse();
        try (Scope s = Scope.open(); Autograd.Tape outer = Autograd.tape()) {
            Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{2}, new double[]{1, -3}));
            Tensor y = F.square(x);
            try (Autograd.Tape inner = Autograd.tape()) {
                F.sum(F.square(y));
            }
            F.sum(F.square(F.scale(y, 2)));
            Autograd.backward(F.sum(y));
            assertArrayEquals(new double[]{2, -6}, x.grad().toDoubleArray());
        }
        assertEquals(before, CPU.bytesInUse());
    }

    /** Tapes close innermost first, as scopes do: an outer tape closed before its inner one is refused and stays open. */
    @Test
    void anOuterTapeClosedBeforeItsInnerOneIsRefused() {
        long before = CPU.bytesInUse();
        try (Scope s = Scope.open()) {
            Autograd.Tape outer = Autograd.tape(), inner = Autograd.tape();
            F.sum(F.square(x()));
            assertThrows(IllegalStateException.class, outer::close);
            inner.close();
            outer.close();
        }
        assertEquals(before, CPU.bytesInUse());
    }

    /** Inference through a chain of six blocks holds at most a block's input and output, not every block's output. */
    @Test
    void aChainFreesEachBlocksInputOnceTheBlockHasReturned() {
        long one = 1024 * 4;
        List<Function<Tensor, Tensor>> blocks = Collections.nCopies(6, t -> F.add(t, t));
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            double[] half = new double[1024];
            Arrays.fill(half, 0.5);
            Tensor h = Tensor.of(CPU, DType.F32, new int[]{1024}, half);
            long base = CPU.bytesInUse();
            CPU.resetPeak();
            Tensor out = F.chain(false, h, blocks);
            assertEquals(base, CPU.bytesInUse(), "only the output is left (the chain consumed its input)");
            assertTrue(CPU.peakBytes() - base <= one, "peak over the input: " + (CPU.peakBytes() - base) + " bytes, one activation is " + one);
            assertEquals(64.0 * 0.5, out.toDoubleArray()[0]);
        }
    }

    /** What backward needs is saved on autograd's own handles: the chain's frees change no gradient, with or without checkpointing. */
    @Test
    void aChainsGradientsAreTheLoopsGradients() {
        List<Function<Tensor, Tensor>> blocks = List.of(F::square, t -> F.scale(t, 3.0), F::square);
        for (boolean checkpoint : new boolean[]{false, true}) {
            long before = CPU.bytesInUse();
            double[][] grads = new double[2][];
            for (int run = 0; run < 2; run++)
                try (Scope s = Scope.open()) {
                    Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{4}, new double[]{0.5, -1, 2, 0.25}));
                    Tensor h = F.scale(x, 1.0);
                    if (run == 0) h = F.chain(checkpoint, h, blocks);
                    else for (Function<Tensor, Tensor> b : blocks) h = F.block(checkpoint, in -> b.apply(in[0]), h);
                    Autograd.backward(F.sum(h));
                    grads[run] = x.grad().toDoubleArray();
                }
            assertArrayEquals(grads[1], grads[0], "checkpoint " + checkpoint);
            assertEquals(before, CPU.bytesInUse());
        }
    }

    /**
     * Each node frees what it saved as soon as its backward has run, not when the whole backward ends: x -> scale -> probe
     * -> square, where square alone holds the scaled activation (its other handles closed). By the time the probe's
     * backward runs, square has run and that activation is gone: memory is what it was before backward, plus the probe's
     * incoming gradient, minus the activation.
     */
    @Test
    void aNodesSavedTensorsGoAsSoonAsItsBackwardHasRun() {
        try (Scope s = Scope.open()) {
            Tensor x = x(), h = F.scale(x, 2);
            long[] atProbe = {-1};
            Tensor p = Autograd.attach(h.alias(), new Node("probe", h) {
                @Override
                protected Tensor[] backward(Tensor gy) {
                    atProbe[0] = CPU.bytesInUse();
                    return new Tensor[]{gy.alias()};
                }
            });
            Tensor y = F.square(p), g = Tensor.zeros(CPU, DType.F32, 64);
            h.close();
            p.close();
            long before = CPU.bytesInUse();
            Autograd.backward(y, g);
            assertEquals(before, atProbe[0], "square's saved input freed (-256 B), its gradient alive (+256 B)");
        }
    }

    /** Closing a tape twice is a no-op, even with another tape open by then (it is no longer the current one). */
    @Test
    void aTapeClosesOnce() {
        try (Scope s = Scope.open()) {
            Autograd.Tape t = Autograd.tape();
            t.close();
            try (Autograd.Tape other = Autograd.tape()) {
                t.close();
            }
        }
    }

    /** A failure midway frees the gradients already handed to nodes that never ran (they belong to the caller's scope). */
    @Test
    void aBackwardThatFailsMidwayFreesItsPendingGradients() {
        try (Scope s = Scope.open()) {
            Tensor x = x();
            Tensor a = Autograd.attach(Tensor.zeros(CPU, DType.F32, 64), new Node("fails", F.square(x)) {
                @Override
                protected Tensor[] backward(Tensor gy) { throw new IllegalStateException("simulated failure"); }
            });
            Tensor root = F.add(a, F.square(x)), g = Tensor.zeros(CPU, DType.F32, 64);
            long before = CPU.bytesInUse();
            // add's gradient goes to both; the second square runs first (last pushed) and leaves x's 2 x gy pending
            assertThrows(IllegalStateException.class, () -> Autograd.backward(root, g));
            assertEquals(before, CPU.bytesInUse());
        }
    }

    /**
     * add and sub save neither input, matmul only the operand the other's gradient needs: a constant's handle closed
     * after the op frees its memory (x -> matmul with w needs w, not x).
     */
    @Test
    void opsSaveOnlyWhatTheirBackwardNeeds() {
        try (Scope s = Scope.open()) {
            Tensor x = x();
            for (boolean sub : new boolean[]{false, true}) {
                Tensor c = Tensor.zeros(CPU, DType.F32, 64);
                long before = CPU.bytesInUse();
                Tensor y = sub ? F.sub(x, c) : F.add(c, x);   // c first and second: both slots
                c.close();
                assertEquals(before, CPU.bytesInUse(), (sub ? "sub" : "add") + ": y's 256 B in, c's 256 B out");
            }
            Tensor a = Autograd.requireGrad(Tensor.zeros(CPU, DType.F32, 4, 16)), w = Tensor.zeros(CPU, DType.F32, 16, 4);
            long before = CPU.bytesInUse();
            Tensor y = F.matmul(a, w);
            a.close();
            y.close();
            assertEquals(before - 256, CPU.bytesInUse(), "matmul kept its grad-requiring operand");
        }
    }

    /** Without recording, the norms' statistics and attention's log-sum-exp are freed at once: only the output is left. */
    @Test
    void normsAndAttentionWithoutRecordingLeaveOnlyTheirOutput() {
        try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
            Tensor x = Tensor.zeros(CPU, DType.F32, 2, 4, 8), gamma = Tensor.zeros(CPU, DType.F32, 8), beta = Tensor.zeros(CPU, DType.F32, 8);
            long before = CPU.bytesInUse();
            F.groupNorm(x, gamma, beta, 2, 1e-5, true);
            assertEquals(before + 256, CPU.bytesInUse(), "groupNorm");
            F.layerNorm(x, gamma, beta, 1e-5);
            assertEquals(before + 512, CPU.bytesInUse(), "layerNorm");
            F.attention(x, x, x, 2, 0.5);
            assertEquals(before + 768, CPU.bytesInUse(), "attention");
        }
    }

    private static Tensor x() {
        return Autograd.requireGrad(Tensor.of(CPU, DType.F32, new int[]{64}, new double[64]));
    }
}
