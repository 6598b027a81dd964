package dev.puppetengine.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.pipeline.KarrasSchedule;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sampler's noise levels against diffusers' EulerDiscreteScheduler (8e1b7a08) configured from SVD's
 * scheduler_config.json (Karras sigmas, v-prediction, leading spacing, continuous timesteps), for 1, 2, 3, 7, 25 and
 * 50 steps ({@code euler.json}, written by tests/fixtures/gen_reference_parity.py). diffusers keeps sigmas and
 * timesteps as float32 tensors: sigmas must be bit-identical; timesteps (0.25 * log(sigma) evaluated by torch in
 * float32) within one float32 ulp of the engine's correctly rounded value. init_noise_sigma is computed by diffusers
 * in float32 from the float32 sigma_max: 700.000732421875, which is what the engine's sqrt(700^2 + 1) becomes as a
 * float32 scale of float32 noise.
 */
class EulerReferenceParityTest {
    @Test
    void sigmasTimestepsAndInitialScaleMatchDiffusers() throws IOException {
        JsonNode all = Json.mapper().readTree(ReferenceFixtures.path("euler.json").toFile());
        int checked = 0, ulpOff = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = all.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int n = Integer.parseInt(e.getKey());
            JsonNode ref = e.getValue();
            KarrasSchedule k = new KarrasSchedule(n);
            assertEquals(n + 1, ref.get("sigmas").size());
            assertEquals(n, ref.get("timesteps").size());
            for (int i = 0; i <= n; i++)
                assertEquals((float) ref.get("sigmas").get(i).asDouble(), k.sigma(i), 0f, "n=" + n + " sigma " + i);
            for (int i = 0; i < n; i++) {
                float want = (float) ref.get("timesteps").get(i).asDouble(), got = k.cNoise(i);
                assertTrue(Math.abs(want - got) <= Math.ulp(want), "n=" + n + " timestep " + i + ": diffusers " + want + ", engine " + got);
                if (want != got) ulpOff++;
                checked++;
            }
            assertEquals((float) ref.get("init_noise_sigma").asDouble(), (float) KarrasSchedule.initNoiseSigma(), 0f, "init_noise_sigma");
        }
        System.out.println("Euler: " + checked + " timesteps checked, " + ulpOff + " differ by one float32 ulp; all sigmas bit-identical");
    }
}
