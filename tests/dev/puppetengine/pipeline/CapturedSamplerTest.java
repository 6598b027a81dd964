package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.HostTransfers;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CancellationException;
import java.util.function.Supplier;

import static dev.puppetengine.pipeline.TinySampling.drags;
import static dev.puppetengine.pipeline.TinySampling.randn;
import static dev.puppetengine.pipeline.TinySampling.unet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA-graph sampling path, checked on the CPU with an emulated graph: the captured body runs once at "capture"
 * (its output then poisoned with NaN, as a real capture computes nothing) and again at every "replay", both with host
 * transfers forbidden. A body that baked in a per-step host value (a sigma, a timestep upload) would replay stale
 * values and break bit-equality with the eager sampler; one that uploaded or read back anything would throw.
 */
class CapturedSamplerTest {
    static final CpuBackend CPU = CpuBackend.get();

    /** Emulates Backend.captureGraph on any backend. */
    static final class Emulated implements EulerSampler.GraphCapturer {
        int captures, replays;

        @Override
        public DeviceGraph capture(Backend be, Supplier<Tensor> body) {
            captures++;
            Tensor out;
            try (HostTransfers.Guard g = HostTransfers.forbid("emulated capture")) {
                out = body.get();
            }
            be.fill(out, Double.NaN);
            return new DeviceGraph() {
                @Override
                public void replay() {
                    replays++;
                    long before = FlopCount.current();
                    try (HostTransfers.Guard g = HostTransfers.forbid("emulated replay"); Scope s = Scope.open()) {
                        be.copyInto(body.get(), out);
                    }
                    FlopCount.adjust(before - FlopCount.current());   // a device replay makes no F calls: the sampler counts it
                }

                @Override public Tensor output() { return out; }

                @Override public void close() {}
            };
        }
    }

    private static void randomiseDragOutputs(ParameterStore ps) {
        // Zero-initialised output convs would hide the drag path; give them values so drags change the result.
        ps.parameters().forEach((k, p) -> { if (k.contains("conv_out") || k.contains("proj_out")) CPU.fillRandom(p.value(), RandomKind.NORMAL, k.hashCode(), 0); });
    }

    @Test
    void emulatedGraphSamplingIsBitIdenticalToEagerWithAndWithoutCfg() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            randomiseDragOutputs(ps);
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            for (SamplingOptions o : new SamplingOptions[]{new SamplingOptions(5, 1.0, 2.5, 11, 3, true),
                    new SamplingOptions(4, 1.0, 1.0, 12, 3, false), new SamplingOptions(3, 1.0, 2.0, 13, 3, true)}) {   // 3: the fewest a graph serves
                FlopCount.start();
                double[] eager = new EulerSampler(unet).sample(z, clip, d, o, null).toDoubleArray();
                long eagerFlops = FlopCount.stop();
                Emulated em = new Emulated();
                int[] calls = {0};
                FlopCount.start();
                double[] graph = new EulerSampler(unet, em).sample(z, clip, d, o.withCudaGraph(true), (done, total) -> calls[0]++).toDoubleArray();
                // the capture's F calls ran nothing and each replay runs a step without any: the count is the eager one
                assertEquals(eagerFlops, FlopCount.stop(), "FLOPs counted on the graph path (" + o + ")");
                assertTrue(eagerFlops > 0);
                assertEquals(1, em.captures);
                assertEquals(o.steps() - 2, em.replays, "steps 1 .. n-2 replay; step 0 and the last run eagerly");
                assertEquals(o.steps(), calls[0]);
                assertArrayEquals(eager, graph, "graph path must equal the eager sampler bit for bit (" + o + ")");
            }
        }
    }

    @Test
    void graphRequestedOnTheCpuFallsBackToTheEagerPath() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            SamplingOptions o = new SamplingOptions(3, 1.0, 2.0, 7, 3, true);
            assertTrue(CPU.graphUnavailable() != null);
            double[] a = new EulerSampler(unet).sample(z, clip, d, o, null).toDoubleArray();
            double[] b = new EulerSampler(unet).sample(z, clip, d, o.withCudaGraph(true), null).toDoubleArray();
            assertArrayEquals(a, b);
        }
    }

    @Test
    void failedCaptureFallsBackToEagerWithTheSameResult() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            SamplingOptions o = new SamplingOptions(4, 1.0, 2.0, 5, 3, true);
            double[] a = new EulerSampler(unet).sample(z, clip, d, o, null).toDoubleArray();
            int[] tries = {0};
            EulerSampler failing = new EulerSampler(unet, (be, body) -> {
                tries[0]++;
                throw new IllegalStateException("simulated capture failure");
            });
            double[] b = failing.sample(z, clip, d, o.withCudaGraph(true), null).toDoubleArray();
            assertEquals(1, tries[0], "one capture attempt, then eager");
            assertArrayEquals(a, b);
        }
    }

    /**
     * The captured path's eager steps replace their latents as the eager sampler's do: after a failed capture a long
     * sample still holds one state, not one per step, and a replayed graph holds its output only.
     */
    @Test
    void capturedPathHoldsTheSameMemoryAtEveryStep() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 1, 8, 8, 4), clip = randn(2, 1, 1, 16), d = drags();
            SamplingOptions o = new SamplingOptions(6, 1.0, 2.0, 7, 3, true).withCudaGraph(true);
            EulerSampler failing = new EulerSampler(unet, (be, body) -> { throw new IllegalStateException("simulated capture failure"); });
            for (EulerSampler sampler : new EulerSampler[]{failing, new EulerSampler(unet, new Emulated())}) {
                long[] after = new long[o.steps()];
                try (Scope sample = Scope.open()) {
                    sampler.sample(z, clip, d, o, (done, total) -> after[done - 1] = CPU.bytesInUse());
                }
                for (int i = 1; i < after.length - 1; i++) assertEquals(after[0], after[i], "bytes in use after step " + (i + 1) + " vs step 1");
            }
        }
    }

    /** A guided batch of two without drags takes the graph path as it takes the eager one; an interrupt stops it too. */
    @Test
    void aGuidedBatchWithoutDragsAndAnInterruptOnTheGraphPath() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor z = randn(1, 2, 8, 8, 4), clip = randn(2, 2, 1, 16);
            SamplingOptions o = new SamplingOptions(3, 1.0, 2.0, 5, 3, true);
            double[] eager = new EulerSampler(unet).sample(z, clip, null, o, null).toDoubleArray();
            Emulated em = new Emulated();
            assertArrayEquals(eager, new EulerSampler(unet, em).sample(z, clip, null, o.withCudaGraph(true), null).toDoubleArray());
            assertEquals(1, em.captures);
            Thread.currentThread().interrupt();
            try {
                assertThrows(CancellationException.class, () -> new EulerSampler(unet, new Emulated()).sample(z, clip, null, o.withCudaGraph(true), null));
            } finally {
                Thread.interrupted();
            }
        }
    }

    /** The audit the memo exists for: the UNet forward uploads host-built constants, refused where a capture runs. */
    @Test
    void unetForwardUploadsOnlyOutsideAFrozenMemo() {
        UNetSpatioTemporalConditionModel unet = unet();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 3)) {
            Tensor x = randn(3, 1, 3, 8, 8, 4), t = Tensor.of(CPU, DType.F32, new int[]{1}, 0.5), z = randn(1, 1, 8, 8, 4),
                    clip = randn(2, 1, 1, 16), d = drags();
            UNetInputs in = new UNetInputs(x, t, z, clip, d, null);
            try (HostTransfers.Guard g = HostTransfers.forbid("test")) {
                assertThrows(IllegalStateException.class, () -> unet.forward(in, UNetOptions.INFERENCE), "without the memo the forward uploads");
            }
            try (DeviceConstants c = DeviceConstants.open()) {
                double[] first = unet.forward(in, UNetOptions.INFERENCE).toDoubleArray();
                int memoised = c.size();
                assertTrue(memoised >= 3, "sinusoid freqs, frame index, drag conditioning");
                double[] again;
                try (HostTransfers.Guard g = HostTransfers.forbid("test"); DeviceConstants.Freeze f = c.freeze("test")) {
                    Tensor v = unet.forward(in, UNetOptions.INFERENCE);
                    g.close();
                    again = v.toDoubleArray();
                }
                assertEquals(memoised, c.size());
                assertArrayEquals(first, again);
            }
        }
    }
}
