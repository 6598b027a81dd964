package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.DeviceUnderTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CudaBackend.captureGraph on a GPU: replays read the static inputs, failures clean up. Skips without CUDA. */
@Tag("gpu")
class CudaGraphTest {
    private CudaBackend cuda;
    private Scope scope;

    @BeforeEach
    void open() {
        cuda = DeviceUnderTest.requireCuda();
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        if (scope == null) return;
        cuda.synchronize();
        scope.close();
    }

    @Test
    void replayReadsTheStaticInputsAsTheyAreAtReplay() {
        Tensor x = Tensor.of(cuda, DType.F32, new int[]{5}, 1, 2, 3, 4, 5);
        Tensor coef = Tensor.of(cuda, DType.F64, new int[]{2}, 2.0, 0.5);
        Tensor warm = cuda.affineFrom(x, coef, 0, 1);      // eager first: modules loaded outside the capture
        assertArrayEquals(new double[]{2.5, 4.5, 6.5, 8.5, 10.5}, warm.toDoubleArray());
        long before = cuda.bytesInUse();
        try (DeviceGraph g = cuda.captureGraph(() -> {
            try (Scope s = Scope.open()) {
                return Scope.escape(cuda.affineFrom(cuda.affineFrom(x, coef, 0, -1), coef, 0, 1));
            }
        })) {
            g.replay();
            assertArrayEquals(new double[]{4.5, 8.5, 12.5, 16.5, 20.5}, g.output().toDoubleArray());
            coef.copyFrom(new double[]{3.0, -1.0});           // new inputs, outside the capture
            x.copyFrom(new double[]{1, 1, 1, 1, 1});
            g.replay();
            assertArrayEquals(new double[]{8, 8, 8, 8, 8}, g.output().toDoubleArray());
            g.output().close();
        }
        assertEquals(before, cuda.bytesInUse(), "pool given back when the graph and its output are closed");
    }

    /**
     * A graph reads (and frees, in its capture) the output of an earlier graph, which is then destroyed: the block
     * stays with the new graph, so neither the old graph's release nor new allocations overwrite what it reads.
     */
    @Test
    void aGraphReadingAnEarlierGraphsOutputKeepsItAfterThatGraphCloses() {
        Tensor x = Tensor.of(cuda, DType.F32, new int[]{4}, 1, 2, 3, 4);
        cuda.affine(x, 1, 0).close();                          // modules loaded outside the captures
        DeviceGraph g1 = cuda.captureGraph(() -> cuda.affine(x, 10, 0));
        g1.replay();
        Tensor o1 = g1.output();
        try (DeviceGraph g2 = cuda.captureGraph(() -> {
            try (Scope s = Scope.open()) {
                Tensor y = cuda.affine(o1, 1, 0);
                o1.close();                                    // freed during the capture: captured nodes still read it
                return Scope.escape(cuda.affine(y, 1, 5));
            }
        })) {
            g1.close();
            Tensor junk = cuda.affine(x, 0, -7);                // an eager allocation of the same size after g1 is gone
            for (int i = 0; i < 3; i++) {
                g2.replay();
                assertArrayEquals(new double[]{15, 25, 35, 45}, g2.output().toDoubleArray(), "replay " + i);
            }
            junk.close();
            g2.output().close();
        }
    }

    /**
     * The same hand-over, the later graph destroyed first: the earlier graph still writes its output block on every
     * replay, so no eager allocation may get that block while the earlier graph lives.
     */
    @Test
    void anEarlierGraphsOutputFreedInALaterCaptureIsNotReusedWhileTheEarlierGraphLives() {
        Tensor x = Tensor.of(cuda, DType.F32, new int[]{4}, 1, 2, 3, 4);
        cuda.affine(x, 1, 0).close();                          // modules loaded outside the captures
        try (DeviceGraph g1 = cuda.captureGraph(() -> cuda.affine(x, 10, 0))) {
            g1.replay();
            Tensor o1 = g1.output();
            DeviceGraph g2 = cuda.captureGraph(() -> {
                try (Scope s = Scope.open()) {
                    Tensor y = cuda.affine(o1, 1, 0);
                    o1.close();                                // freed during the capture: g1 still writes it
                    return Scope.escape(cuda.affine(y, 1, 5));
                }
            });
            g2.output().close();
            g2.close();
            List<Tensor> junk = new ArrayList<>();
            for (int i = 0; i < 4; i++) junk.add(cuda.affine(x, 0, -7));   // eager tensors of that size class
            g1.replay();
            for (Tensor j : junk) assertArrayEquals(new double[]{-7, -7, -7, -7}, j.toDoubleArray(), "an eager tensor after g1's replay");
        }
    }

    @Test
    void hostTransferInsideCaptureFailsCleanlyAndTheBackendStaysUsable() {
        Tensor x = Tensor.of(cuda, DType.F32, new int[]{3}, 1, 2, 3);
        long before = cuda.bytesInUse();
        CudaException e = assertThrows(CudaException.class, () -> cuda.captureGraph(() -> {
            try (Scope s = Scope.open()) {
                Tensor y = cuda.affine(x, 2, 0);
                return Scope.escape(Tensor.of(cuda, DType.F32, new int[]{3}, y.toDoubleArray()));   // a read-back: not capturable
            }
        }));
        assertTrue(e.getMessage().contains("CUDA graph capture failed"), e.getMessage());
        assertEquals(before, cuda.bytesInUse(), "the failed capture's pool is released");
        assertArrayEquals(new double[]{2, 4, 6}, cuda.affine(x, 2, 0).toDoubleArray(), "eager work after a failed capture");
    }
}
