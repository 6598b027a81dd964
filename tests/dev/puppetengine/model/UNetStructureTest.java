package dev.puppetengine.model;

import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Full-size models are described without allocating: names, checkpoint shapes and counts against the spec. */
class UNetStructureTest {

    private static Map<String, String> expectedKeys() throws Exception {
        Map<String, String> keys = new TreeMap<>();
        var in = UNetStructureTest.class.getResourceAsStream("/spec/pm_unet_keys.txt");
        assertNotNull(in, "tests/resources/spec/pm_unet_keys.txt missing");
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) continue;
                int sp = line.indexOf(' ');
                keys.put(line.substring(0, sp), line.substring(sp + 1).replace(" ", ""));
            }
        }
        return keys;
    }

    private static Map<String, String> actualKeys(UNetSpatioTemporalConditionModel m) {
        Map<String, String> keys = new TreeMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet())
            keys.put(e.getKey(), Arrays.toString(e.getValue().checkpointShape()).replace(" ", ""));
        return keys;
    }

    @Test
    void puppetMasterKeysAndShapesEqualTheSpecList() throws Exception {
        Map<String, String> expected = expectedKeys();
        UNetSpatioTemporalConditionModel pm = new UNetSpatioTemporalConditionModel(UNetConfig.puppetMaster());
        Map<String, String> actual = actualKeys(pm);
        var missing = new TreeMap<>(expected);
        missing.keySet().removeAll(actual.keySet());
        var extra = new TreeMap<>(actual);
        extra.keySet().removeAll(expected.keySet());
        assertTrue(missing.isEmpty(), "missing keys: " + missing);
        assertTrue(extra.isEmpty(), "unexpected keys: " + extra);
        for (String k : expected.keySet()) assertEquals(expected.get(k), actual.get(k), "shape of " + k);
        assertEquals(1664, actual.size());
        assertEquals(1_675_809_962L, pm.parameterCount());
    }

    @Test
    void stockSvdHasAddEmbeddingAndTheKnownTotal() {
        UNetSpatioTemporalConditionModel svd = new UNetSpatioTemporalConditionModel(UNetConfig.svdImg2vid());
        assertEquals(1_524_623_082L, svd.parameterCount());
        Map<String, Parameter> p = svd.namedParameters();
        assertArrayEqualsShape(new int[]{1280, 768}, p.get("add_embedding.linear_1.weight").checkpointShape());
        assertFalse(p.keySet().stream().anyMatch(k -> k.contains("flow_convs") || k.contains("drag_token_mlps")));
        // conv weights are channels-last in the engine, OIHW / OI311 in checkpoints
        assertArrayEqualsShape(new int[]{320, 3, 3, 8}, p.get("conv_in.weight").shape());
        assertArrayEqualsShape(new int[]{320, 3, 1, 320}, p.get("down_blocks.0.resnets.0.temporal_res_block.conv1.weight").shape());
    }

    @Test
    void perModuleCountsMatchSpecSection2_8And3_10() {
        UNetSpatioTemporalConditionModel pm = new UNetSpatioTemporalConditionModel(UNetConfig.puppetMaster());
        long flow = 0, mlps = 0;
        for (Map.Entry<String, Parameter> e : pm.namedParameters().entrySet()) {
            if (e.getKey().contains(".flow_convs.")) flow += e.getValue().numel();
            if (e.getKey().contains(".drag_token_mlps.")) mlps += e.getValue().numel();
        }
        assertEquals(113_147_840L, flow);
        assertEquals(40_663_040L, mlps);
    }

    private static void assertArrayEqualsShape(int[] expected, int[] actual) {
        assertEquals(Arrays.toString(expected), Arrays.toString(actual));
    }
}
