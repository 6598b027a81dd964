package dev.puppetengine.model.vae;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The full-size SVD VAE described without allocating: diffusers key names, checkpoint shapes, counts of spec 2.8/2.9. */
class VaeStructureTest {
    private static final Map<String, Parameter> P = new AutoencoderKLTemporalDecoder(VaeConfig.svd()).namedParameters();

    private static long count(String prefix) {
        return P.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToLong(e -> e.getValue().numel()).sum();
    }

    private static void assertShape(String key, int... checkpointShape) {
        Parameter p = P.get(key);
        assertNotNull(p, "missing key " + key);
        assertEquals(Arrays.toString(checkpointShape), Arrays.toString(p.checkpointShape()), "checkpoint shape of " + key);
    }

    @Test
    void totalsMatchTheSpec() {
        assertEquals(34_163_592L, count("encoder."));
        assertEquals(72L, count("quant_conv."));
        assertEquals(63_579_183L, count("decoder."));
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.svd());
        assertEquals(97_742_847L, vae.parameterCount());
        assertEquals(VaeConfig.svd(), vae.config());
        assertEquals(P.size(), P.keySet().stream().filter(k -> k.startsWith("encoder.") || k.startsWith("quant_conv.") || k.startsWith("decoder.")).count());
    }

    @Test
    void tensorCountFollowsTheModuleTree() {
        // encoder: conv_in 2, 8 resnets x 8 + 2 shortcuts x 2, 3 downsamplers x 2, mid (2 resnets x 8 + attention 10), norm 2, conv_out 2
        assertEquals(106, P.keySet().stream().filter(k -> k.startsWith("encoder.")).count());
        // decoder: conv_in 2, mid (2 video resnets x 17 + attention 10), 12 video resnets x 17 + 2 shortcuts x 2, 3 upsamplers x 2,
        // norm 2, conv_out 2, time_conv_out 2
        assertEquals(266, P.keySet().stream().filter(k -> k.startsWith("decoder.")).count());
        assertEquals(374, P.size());
    }

    @Test
    void encoderKeysAndShapes() {
        assertShape("encoder.conv_in.weight", 128, 3, 3, 3);
        assertShape("encoder.down_blocks.0.resnets.1.conv2.weight", 128, 128, 3, 3);
        assertShape("encoder.down_blocks.0.downsamplers.0.conv.weight", 128, 128, 3, 3);
        assertShape("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", 256, 128, 1, 1);
        assertShape("encoder.down_blocks.2.resnets.0.norm1.weight", 256);
        assertShape("encoder.down_blocks.2.downsamplers.0.conv.bias", 512);
        assertShape("encoder.mid_block.resnets.1.norm2.bias", 512);
        assertShape("encoder.mid_block.attentions.0.group_norm.weight", 512);
        for (String m : new String[]{"to_q", "to_k", "to_v", "to_out.0"}) {
            assertShape("encoder.mid_block.attentions.0." + m + ".weight", 512, 512);
            assertShape("encoder.mid_block.attentions.0." + m + ".bias", 512);
        }
        assertShape("encoder.conv_norm_out.weight", 512);
        assertShape("encoder.conv_out.weight", 8, 512, 3, 3);
        assertShape("quant_conv.weight", 8, 8, 1, 1);
        assertShape("quant_conv.bias", 8);
        assertNull(P.get("encoder.down_blocks.3.downsamplers.0.conv.weight"), "the lowest encoder level does not downsample");
        assertNull(P.get("encoder.down_blocks.0.resnets.0.conv_shortcut.weight"));
        assertFalse(P.keySet().stream().anyMatch(k -> k.startsWith("encoder.") && (k.contains("spatial_res_block") || k.contains("time_emb_proj"))));
    }

    @Test
    void decoderKeysAndShapes() {
        assertShape("decoder.conv_in.weight", 512, 4, 3, 3);
        String res = "decoder.mid_block.resnets.1.";
        assertShape(res + "spatial_res_block.conv1.weight", 512, 512, 3, 3);
        assertShape(res + "temporal_res_block.conv1.weight", 512, 512, 3, 1, 1);
        assertShape(res + "temporal_res_block.norm2.bias", 512);
        assertShape(res + "time_mixer.mix_factor", 1);
        assertShape("decoder.mid_block.attentions.0.group_norm.bias", 512);
        assertShape("decoder.mid_block.attentions.0.to_out.0.weight", 512, 512);
        assertShape("decoder.up_blocks.0.resnets.2.temporal_res_block.conv2.weight", 512, 512, 3, 1, 1);
        assertShape("decoder.up_blocks.0.upsamplers.0.conv.weight", 512, 512, 3, 3);
        assertShape("decoder.up_blocks.2.resnets.0.spatial_res_block.conv_shortcut.weight", 256, 512, 1, 1);
        assertShape("decoder.up_blocks.2.upsamplers.0.conv.weight", 256, 256, 3, 3);
        assertShape("decoder.up_blocks.3.resnets.0.spatial_res_block.conv_shortcut.weight", 128, 256, 1, 1);
        assertShape("decoder.up_blocks.3.resnets.2.time_mixer.mix_factor", 1);
        assertShape("decoder.conv_norm_out.weight", 128);
        assertShape("decoder.conv_out.weight", 3, 128, 3, 3);
        assertShape("decoder.time_conv_out.weight", 3, 3, 3, 1, 1);
        assertShape("decoder.time_conv_out.bias", 3);
        assertNull(P.get("decoder.up_blocks.3.upsamplers.0.conv.weight"), "the top decoder level does not upsample");
        assertNull(P.get("decoder.up_blocks.0.resnets.3.time_mixer.mix_factor"), "layers_per_block + 1 = 3 resnets per level");
        assertFalse(P.keySet().stream().anyMatch(k -> k.contains("time_emb_proj") || k.contains("post_quant_conv")));
        // engine layout: channels-last conv weights, temporal conv (Cout, 3, 1, Cin)
        assertEquals("[512, 3, 3, 4]", Arrays.toString(P.get("decoder.conv_in.weight").shape()));
        assertEquals("[3, 3, 1, 3]", Arrays.toString(P.get("decoder.time_conv_out.weight").shape()));
    }

    @Test
    void mixFactorsStartAtZero() {
        assertEquals(0.0, P.get("decoder.up_blocks.1.resnets.0.time_mixer.mix_factor").init().value());
        assertEquals(0.0, P.get("decoder.mid_block.resnets.0.time_mixer.mix_factor").init().value());
        assertEquals(14, P.keySet().stream().filter(k -> k.endsWith("time_mixer.mix_factor")).count());
    }

    @Test
    void groupNormsHave32GroupsAndTheSpecEps() {
        Module vae = new AutoencoderKLTemporalDecoder(VaeConfig.svd());
        String[] eps6 = {"encoder.down_blocks.0.resnets.0.norm1", "encoder.mid_block.attentions.0.group_norm", "encoder.conv_norm_out",
                "decoder.mid_block.resnets.0.spatial_res_block.norm2", "decoder.mid_block.attentions.0.group_norm",
                "decoder.up_blocks.3.resnets.1.spatial_res_block.norm1", "decoder.conv_norm_out"};
        String[] eps5 = {"decoder.mid_block.resnets.0.temporal_res_block.norm1", "decoder.up_blocks.2.resnets.2.temporal_res_block.norm2"};
        for (String path : eps6) assertNorm(vae, path, 1e-6);
        for (String path : eps5) assertNorm(vae, path, 1e-5);
    }

    private static void assertNorm(Module root, String path, double eps) {
        Module m = root;
        for (String seg : path.split("\\.")) {
            m = m.children().get(seg);
            assertNotNull(m, "no module " + path);
        }
        GroupNorm gn = assertInstanceOf(GroupNorm.class, m, path);
        assertEquals(32, gn.groups, path);
        assertEquals(eps, gn.eps, path);
    }

    @Test
    void diffusersConfigJsonGivesThePreset() throws Exception {
        String json = "{\"_class_name\": \"AutoencoderKLTemporalDecoder\", \"_diffusers_version\": \"0.24.0.dev0\","
                + " \"block_out_channels\": [128, 256, 512, 512], \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\","
                + " \"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], \"force_upcast\": true, \"in_channels\": 3, \"latent_channels\": 4,"
                + " \"layers_per_block\": 2, \"out_channels\": 3, \"sample_size\": 768, \"scaling_factor\": 0.18215}";
        VaeConfig cfg = new ObjectMapper().readValue(json, VaeConfig.class);
        assertEquals(VaeConfig.svd(), cfg);
        assertEquals(32, cfg.normNumGroups());
        assertEquals(8, cfg.downscaleFactor());
    }

    @Test
    void badConfigsAreRejectedWithTheField() {
        var e = assertThrows(IllegalArgumentException.class, () -> new VaeConfig(3, 3, 4, List.of("DownEncoderBlock2D"),
                List.of(20), 2, 64, 0.18215, true, 8));
        assertEquals("VAE config: 20 channels not divisible by norm_num_groups 8", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VaeConfig(3, 3, 4, List.of("UpDecoderBlock2D"),
                List.of(32), 2, 64, 0.18215, true, 8));
    }

    /** Each bound at its edge: the smallest valid config is accepted, one step past any bound is refused. */
    @Test
    void configBoundsAreCheckedAtTheirEdges() {
        List<String> one = List.of(VaeConfig.DOWN_ENCODER);
        VaeConfig smallest = new VaeConfig(1, 1, 1, one, List.of(1), 1, 0, Double.MIN_VALUE, false, 1);
        assertEquals(1, smallest.downscaleFactor());
        VaeConfig half = smallest.withScalingFactor(0.5);
        assertEquals(0.5, half.scalingFactor());
        assertEquals(smallest, half.withScalingFactor(Double.MIN_VALUE), "only the factor changes");
        assertRefused("VAE config: block_out_channels must not be empty", () -> new VaeConfig(1, 1, 1, List.of(), List.of(), 1, 0, 1, false, 1));
        assertRefused("VAE config: block_out_channels must not be empty", () -> new VaeConfig(1, 1, 1, one, null, 1, 0, 1, false, 1));
        assertRefused("VAE config: down_block_types must have one entry per block_out_channels entry (1), got null",
                () -> new VaeConfig(1, 1, 1, null, List.of(1), 1, 0, 1, false, 1));
        assertRefused("VAE config: down_block_types", () -> new VaeConfig(1, 1, 1, List.of(VaeConfig.DOWN_ENCODER, VaeConfig.DOWN_ENCODER),
                List.of(1), 1, 0, 1, false, 1));
        assertRefused("VAE config: layers_per_block must be at least 1, got 0", () -> new VaeConfig(1, 1, 1, one, List.of(1), 0, 0, 1, false, 1));
        for (double f : new double[]{0, -1, Double.POSITIVE_INFINITY, Double.NaN})
            assertRefused("VAE config: scaling_factor must be a finite number > 0, got " + f, () -> smallest.withScalingFactor(f));
        String channels = "VAE config: in_channels, out_channels and latent_channels must be positive";
        assertRefused(channels, () -> new VaeConfig(0, 1, 1, one, List.of(1), 1, 0, 1, false, 1));
        assertRefused(channels, () -> new VaeConfig(1, 0, 1, one, List.of(1), 1, 0, 1, false, 1));
        assertRefused(channels, () -> new VaeConfig(1, 1, 0, one, List.of(1), 1, 0, 1, false, 1));
    }
}
