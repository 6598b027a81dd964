package dev.puppetengine.cli;

import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** describe --preset (--verify is ShippedModelTest's): each component's parameters per top-level module and in all, or key by key. */
class DescribeCommandTest {
    private static Map<String, Module> toy() {
        ModelPresets p = ModelPresets.named("toy");
        Map<String, Module> m = new LinkedHashMap<>();
        m.put("unet", new UNetSpatioTemporalConditionModel(p.unet()));
        m.put("vae", new AutoencoderKLTemporalDecoder(p.vae()));
        m.put("image_encoder", new ClipVisionModelWithProjection(p.clip()));
        return m;
    }

    private static String total(String component, Module m) {
        return String.format(Locale.ROOT, "toy %s: %,d tensors, %,d parameters", component, m.namedParameters().size(), m.parameterCount());
    }

    /** Per component, in order: its top-level modules (a block list by block) whose counts add up to the total line, then a blank line. */
    @Test
    void aPresetsModulesAddUpToEachComponentsTotal() {
        CliRun r = CliRun.of("describe", "--preset", "toy");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        int at = 0;
        for (Map.Entry<String, Module> c : toy().entrySet()) {
            long sum = 0;
            List<String> names = new ArrayList<>();
            for (; lines.get(at).startsWith("  "); at++) {
                String[] f = lines.get(at).strip().split(" +");
                names.add(f[0]);
                sum += Long.parseLong(f[1].replace(",", ""));
            }
            assertEquals(total(c.getKey(), c.getValue()), lines.get(at++), c.getKey());
            assertEquals("", lines.get(at++));
            assertEquals(c.getValue().parameterCount(), sum, c.getKey() + ": " + names);
            assertEquals(names.stream().sorted().toList(), names, "by name");
            assertTrue(names.size() > 1, c.getKey() + ": " + names);
            if (c.getKey().equals("unet")) assertTrue(names.containsAll(List.of("conv_in", "down_blocks.0", "down_blocks.1", "up_blocks.0")), names.toString());
        }
        assertEquals(lines.size(), at);
    }

    /** With --keys: every key with its checkpoint shape, in the module's order, instead of the per-module lines. */
    @Test
    void keysListsEveryParameterWithItsCheckpointShape() {
        CliRun r = CliRun.of("describe", "--preset", "toy", "--keys");
        assertEquals(0, r.code(), r.err());
        List<String> expected = new ArrayList<>();
        toy().forEach((component, m) -> {
            m.namedParameters().forEach((k, p) -> expected.add(k + " " + Arrays.toString(p.checkpointShape())));
            expected.add(total(component, m));
            expected.add("");
        });
        assertEquals(expected, r.out().lines().toList());
    }
}
