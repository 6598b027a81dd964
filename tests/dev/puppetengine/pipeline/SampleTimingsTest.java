package dev.puppetengine.pipeline;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.WatchedBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link PuppetMaster.Timings} are of work done, not of work queued: on a device whose ops return before they run
 * (CUDA), each stage boundary must wait for the stage's queued work, else a stage's time lands in a later one's.
 */
class SampleTimingsTest {
    @Test
    void everyStageBoundarySynchronizesTheBackend() {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        CpuBackend cpu = CpuBackend.get();
        Backend watched = WatchedBackend.of(cpu, (m, args, next) -> {
            if (m.getName().equals("synchronize")) events.add("sync");
            return next.run();
        });
        SamplingOptions o = SamplingOptions.defaults().withSteps(2).withFrames(2);
        try (PuppetMaster pm = new PuppetMaster(LoadedModel.random(ModelPresets.named("toy"), watched, DType.F32, 0))) {
            pm.sample(new RgbImage(64, 64, new byte[64 * 64 * 3]), List.of(), o, (done, total) -> events.add("step " + done));
        }
        int first = events.indexOf("step 1"), last = events.indexOf("step " + o.steps());
        // preprocess | CLIP | VAE encode | UNet ... | VAE decode |
        assertEquals(3, Collections.frequency(events.subList(0, first), "sync"), "before the UNet: " + events);
        assertEquals(2, Collections.frequency(events.subList(last, events.size()), "sync"), "after it: " + events);
    }
}
