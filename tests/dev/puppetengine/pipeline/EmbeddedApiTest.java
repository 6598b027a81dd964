package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link PuppetMaster} as a server embeds it: threads, memory, cancellation, argument checks; the shipped toy model on the CPU. */
class EmbeddedApiTest {
    private static final Path TOY = Path.of("models/toy");
    private static final CpuBackend CPU = CpuBackend.get();
    private static final List<DragPath> DRAGS = List.of(DragPath.line(0.2, 0.5, 0.3, 0.6));
    private static final SamplingOptions FAST = SamplingOptions.defaults().withSteps(2).withFrames(2);

    private static RgbImage fish() throws Exception {
        return ImageFiles.readRgb(Path.of("examples/fish.png"));
    }

    /**
     * Two instances loaded at once on two threads, sampling alone on a third and then at once on the first two, give
     * the same frames each time; closed on the third, they give back all their memory.
     */
    @Test
    void twoInstancesLoadedAndSamplingAtOnceGiveWhatEachGivesAlone() throws Exception {
        RgbImage image = fish();
        long before = CPU.bytesInUse();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<PuppetMaster> la = pool.submit(() -> PuppetMaster.load(TOY, CPU, DType.F32)), lb = pool.submit(() -> PuppetMaster.load(TOY, CPU, DType.F32));
            try (PuppetMaster a = la.get(); PuppetMaster b = lb.get()) {
                List<RgbImage> aloneA = a.sample(image, DRAGS, FAST.withSeed(1), null).frames(), aloneB = b.sample(image, DRAGS, FAST.withSeed(2), null).frames();
                Future<PuppetMaster.Result> fa = pool.submit(() -> a.sample(image, DRAGS, FAST.withSeed(1), null));
                Future<PuppetMaster.Result> fb = pool.submit(() -> b.sample(image, DRAGS, FAST.withSeed(2), null));
                List<RgbImage> atOnceA = fa.get().frames(), atOnceB = fb.get().frames();
                for (int f = 0; f < FAST.frames(); f++) {
                    assertArrayEquals(aloneA.get(f).pixels(), atOnceA.get(f).pixels(), "seed 1, frame " + f);
                    assertArrayEquals(aloneB.get(f).pixels(), atOnceB.get(f).pixels(), "seed 2, frame " + f);
                }
                assertFalse(Arrays.equals(aloneA.get(1).pixels(), aloneB.get(1).pixels()), "the seeds differ");
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(before, CPU.bytesInUse(), "after closing both");
    }

    /** Samples, one after another or refused, give back all they allocated; close gives back the weights, and twice is fine. */
    @Test
    void memoryReturnsAfterEverySampleAndClose() throws Exception {
        RgbImage image = fish();
        long before = CPU.bytesInUse();
        PuppetMaster pm = PuppetMaster.load(TOY, CPU, DType.F32);
        long loaded = CPU.bytesInUse();
        for (int i = 0; i < 5; i++) {
            pm.sample(image, DRAGS, FAST, null);
            assertEquals(loaded, CPU.bytesInUse(), "after sample " + (i + 1));
        }
        assertThrows(IllegalArgumentException.class, () -> pm.sample(image, List.of(DragPath.line(0, 0, 0.5, 0.5)), FAST, null));
        assertEquals(loaded, CPU.bytesInUse(), "after a refused drag");
        ParameterStore vae = pm.model().vaeWeights();
        pm.close();
        assertEquals(before, CPU.bytesInUse(), "after close");
        pm.close();
        assertSame(vae, pm.model().vaeWeights(), "a closed model's stores stay reachable, as its UNet's");
        pm.model().close();
        assertEquals("this PuppetMaster is closed (its model's weights were freed)",
                assertThrows(IllegalStateException.class, () -> pm.sample(image, DRAGS, FAST, null)).getMessage());
    }

    /**
     * A close while a sample runs (a server shutting down; here from the listener, on the sampling thread, so without
     * timing) lets that sample finish with the weights it reads and frees them when it returns.
     */
    @Test
    void aCloseDuringASampleFreesTheWeightsWhenTheSampleEnds() throws Exception {
        RgbImage image = fish();
        long before = CPU.bytesInUse();
        PuppetMaster pm = PuppetMaster.load(TOY, CPU, DType.F32);
        PuppetMaster.Result r = pm.sample(image, DRAGS, FAST, (done, total) -> pm.close());
        assertEquals(FAST.frames(), r.frames().size());
        assertEquals(0, r.nonFinite());
        assertEquals(before, CPU.bytesInUse(), "the weights freed after the sample");
        assertThrows(IllegalStateException.class, () -> pm.sample(image, DRAGS, FAST, null));
    }

    /** A listener's exception or an interrupt stops sampling between steps, as documented, and leaks nothing. */
    @Test
    void aSampleCanBeCancelledByTheListenerOrAnInterrupt() throws Exception {
        RgbImage image = fish();
        SamplingOptions three = FAST.withSteps(3);
        try (PuppetMaster pm = PuppetMaster.load(TOY, CPU, DType.F32)) {
            long loaded = CPU.bytesInUse();
            RuntimeException stop = new RuntimeException("client went away");
            int[] steps = {0};
            assertSame(stop, assertThrows(RuntimeException.class, () -> pm.sample(image, DRAGS, three, (done, total) -> {
                steps[0] = done;
                throw stop;
            })));
            assertEquals(1, steps[0]);
            assertEquals(loaded, CPU.bytesInUse(), "after the listener's exception");

            try {
                assertThrows(CancellationException.class, () -> pm.sample(image, DRAGS, three, (done, total) -> {
                    steps[0] = done;
                    Thread.currentThread().interrupt();   // as Future.cancel(true) would, from another thread
                }));
                assertEquals(1, steps[0], "no step after the interrupt");
                assertTrue(Thread.currentThread().isInterrupted(), "the interrupt stays set for the caller");
                assertEquals("sampling interrupted before it began",   // the encoders do not run either
                        assertThrows(CancellationException.class, () -> pm.sample(image, DRAGS, three, (done, total) -> steps[0] = 0)).getMessage());
                assertEquals(1, steps[0], "an interrupted thread runs no step");
            } finally {
                Thread.interrupted();
            }
            assertEquals(loaded, CPU.bytesInUse(), "after the cancelled samples");
            assertNull(Scope.current(), "no scope left open on the caller's thread");
            assertTrue(GradMode.isEnabled(), "the caller's grad mode restored");
            assertEquals(FAST.frames(), pm.sample(image, DRAGS, FAST, null).frames().size(), "the instance samples again after a cancel");
        }
    }

    @Test
    void badArgumentsAreRefusedUpFrontNamingWhatIsWrong() throws Exception {
        RgbImage image = fish();
        try (PuppetMaster pm = PuppetMaster.load(TOY, CPU, DType.F32)) {
            assertRefused("image is null", () -> pm.sample(null, DRAGS, FAST, null));
            assertRefused("drags is null", () -> pm.sample(image, null, FAST, null));
            assertRefused("drag 1 is null", () -> pm.sample(image, Arrays.asList(DRAGS.get(0), null), FAST, null));
            assertRefused("options is null", () -> pm.sample(image, DRAGS, null, null));
        }
        assertRefused("model directory is null", () -> PuppetMaster.load(null, CPU, DType.F32));
        assertRefused("backend is null", () -> PuppetMaster.load(TOY, null, DType.F32));
        assertRefused("dtype must be a floating type (F32, BF16, F16 or F64), got null", () -> PuppetMaster.load(TOY, CPU, null));
        assertRefused("dtype must be a floating type (F32, BF16, F16 or F64), got I32", () -> PuppetMaster.load(TOY, CPU, DType.I32));
        assertRefused("steps must be >= 1 and <= 1000, got 0", () -> FAST.withSteps(0));
        assertRefused("steps must be >= 1 and <= 1000, got 2147483647", () -> FAST.withSteps(Integer.MAX_VALUE));
        assertRefused("frames must be >= 1 and <= 128, got -1", () -> FAST.withFrames(-1));
        assertRefused("frames must be >= 1 and <= 128, got 100000000", () -> FAST.withFrames(100_000_000));
        assertRefused("guidance must be finite and >= 1, got 1.0..Infinity", () -> FAST.withGuidance(Double.POSITIVE_INFINITY));
        assertRefused("guidance must be <= 100.0, got 1.0..1.0E300", () -> FAST.withGuidance(1e300));   // finite, but infinite in the sampler's F32
        assertRefused("drag point 0 (NaN, 0.5000) is outside the image", () -> DragPath.line(Double.NaN, 0.5, 0.3, 0.6));
    }
}
