package dev.puppetengine.pipeline;

import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.DeviceUnderTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Replay equals eager, on a GPU: the shipped toy model (models/toy) sampled for a few steps with the UNet step
 * captured in a CUDA graph and without, same seed: the frames must be identical byte for byte (the captured step
 * runs the same kernels on the same values; only the launch mechanism differs). Also: the graph's private pool is
 * given back (device memory in use returns to where it was). Skips (JUnit assumption) without a usable CUDA backend.
 */
@Tag("gpu")
class CudaGraphSampleTest {

    private static RgbImage image(int side) {
        byte[] rgb = new byte[side * side * 3];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                for (int c = 0; c < 3; c++) rgb[(y * side + x) * 3 + c] = (byte) ((x * (c + 1) + y * (3 - c) * 2) & 0xff);
        return new RgbImage(side, side, rgb);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void graphReplayGivesTheEagerFrames(DType dtype) throws Exception {
        CudaBackend cuda = DeviceUnderTest.requireCuda();
        try (PuppetMaster pm = PuppetMaster.load(Path.of("models/toy"), cuda, dtype)) {
            RgbImage img = image(pm.resolution());
            List<DragPath> drags = List.of(DragPath.line(0.3, 0.5, 0.6, 0.55), DragPath.line(0.7, 0.3, 0.7, 0.1));
            SamplingOptions o = SamplingOptions.defaults().withSteps(5).withFrames(4).withSeed(3).withCudaGraph(false);
            List<RgbImage> eager = pm.sample(img, drags, o, null).frames();
            cuda.synchronize();
            long before = cuda.bytesInUse();
            List<RgbImage> graph = pm.sample(img, drags, o.withCudaGraph(true), null).frames();
            cuda.synchronize();
            assertEquals(before, cuda.bytesInUse(), "the graph's pool and static buffers are given back after the sample");
            List<RgbImage> again = pm.sample(img, drags, o.withCudaGraph(true), null).frames();   // a fresh capture
            assertEquals(eager.size(), graph.size());
            for (int f = 0; f < eager.size(); f++) {
                assertArrayEquals(eager.get(f).pixels(), graph.get(f).pixels(), "frame " + f + " differs between graph replay and eager (" + dtype + ")");
                assertArrayEquals(eager.get(f).pixels(), again.get(f).pixels(), "frame " + f + ", second graph sample (" + dtype + ")");
            }
        }
    }
}
