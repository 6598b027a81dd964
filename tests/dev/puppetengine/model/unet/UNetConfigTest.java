package dev.puppetengine.model.unet;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import org.junit.jupiter.api.Test;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.nn.Attention;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.LayerNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A UNet config.json (an engine export the converter reads) that describes no buildable model is refused when parsed. */
class UNetConfigTest {
    /** Found by fuzzing: these parsed, then building the model threw NullPointerException, ArithmeticException or NegativeArraySizeException. */
    @Test
    void refusesWhatWouldFailBuildingTheModel() throws Exception {
        for (UNetConfig ok : new UNetConfig[]{UNetConfig.puppetMaster(), UNetConfig.svdImg2vid(), UNetConfig.tiny(8, 3, 16), UNetConfig.puppetMaster().svdBase()})
            assertDoesNotThrow(() -> Json.mapper().treeToValue(Json.mapper().valueToTree(ok), UNetConfig.class));
        String[][] cases = {
                {"num_attention_heads", "[0, 2, 2, 2]", "num_attention_heads 0"}, {"num_attention_heads", "[3, 2, 2, 2]", "num_attention_heads 3"},
                {"num_attention_heads", "[null, 2, 2, 2]", "holds null"}, {"resnet_eps_up", "[null, 1e-5, 1e-5, 1e-5]", "holds null"},
                {"drag_embedder_out_channels", "[null]", "holds null"}, {"layers_per_block", "-1", "layers_per_block must be at least 1"},
        };
        assertRefused(cases);
    }

    /** The constructor's other checks, each on the tiny preset with one field changed, and the bounds at their edges. */
    @Test
    void refusesUnsupportedStructures() throws Exception {
        String four = "must all have 4 entries";
        assertRefused(new String[][]{
                {"down_block_types", "[\"CrossAttnDownBlockSpatioTemporal\"]", four}, {"up_block_types", "[\"UpBlockSpatioTemporal\"]", four},
                {"num_attention_heads", "[1, 2, 2]", four}, {"resnet_eps_down", "[1e-6]", four}, {"resnet_eps_up", "[1e-6, 1e-5, 1e-5]", four},
                {"down_block_types", "[\"CrossAttnDownBlockSpatioTemporal\", \"CrossAttnDownBlockSpatioTemporal\", \"DownBlock2D\","
                        + " \"DownBlockSpatioTemporal\"]", "unsupported down block type DownBlock2D"},
                {"up_block_types", "[\"UpBlock2D\", \"CrossAttnUpBlockSpatioTemporal\", \"CrossAttnUpBlockSpatioTemporal\","
                        + " \"CrossAttnUpBlockSpatioTemporal\"]", "unsupported up block type UpBlock2D"},
                {"transformer_layers_per_block", "2", "transformer_layers_per_block must be 1"},
                {"pos_embed_dim", "18", "pos_embed_dim must be a multiple of 4"}, {"drag_embedder_out_channels", "[]", "non-empty"},
                {"norm_num_groups", "3", "8 channels not divisible by norm_num_groups 3"},
        });
        ObjectNode smallest = Json.mapper().valueToTree(UNetConfig.tiny(8, 3, 16));
        for (String[] f : new String[][]{{"block_out_channels", "[1, 1, 1, 1]"}, {"num_attention_heads", "[1, 1, 1, 1]"}, {"norm_num_groups", "1"},
                {"layers_per_block", "1"}})
            smallest.set(f[0], Json.mapper().readTree(f[1]));
        assertEquals(List.of(1, 1, 1, 1), Json.mapper().treeToValue(smallest, UNetConfig.class).blockOutChannels());
    }

    private static void assertRefused(String[][] cases) throws Exception {
        for (String[] c : cases) {
            ObjectNode cfg = Json.mapper().valueToTree(UNetConfig.tiny(8, 3, 16));
            cfg.set(c[0], Json.mapper().readTree(c[1]));
            JsonMappingException e = assertThrows(JsonMappingException.class, () -> Json.mapper().treeToValue(cfg, UNetConfig.class), c[0] + "=" + c[1]);
            assertTrue(e.getOriginalMessage().contains(c[2]), e.getOriginalMessage());
        }
    }

    /** An SVD config.json written without the Puppet-Master fields: the missing drag list is an empty one, and the model builds. */
    @Test
    void aConfigWithoutTheDragListBuildsStockSvd() throws Exception {
        ObjectNode json = Json.mapper().valueToTree(UNetConfig.svdImg2vid());
        json.remove("drag_embedder_out_channels");
        UNetConfig cfg = Json.mapper().treeToValue(json, UNetConfig.class);
        assertEquals(1_524_623_082L, new UNetSpatioTemporalConditionModel(cfg).parameterCount());
        assertEquals(UNetConfig.svdImg2vid(), cfg);
    }

    /** Spec 3.1: Puppet-Master is initialised from stock SVD, whose UNet is Puppet-Master's less the drag modules and quirks. */
    @Test
    void svdBaseOfPuppetMasterIsStockSvd() {
        assertEquals(UNetConfig.svdImg2vid(), UNetConfig.puppetMaster().svdBase());
    }

    @Test
    void latentsMustBeSquareMultiplesOfTheDownscale() {
        UNetConfig c = UNetConfig.tiny(8, 3, 16);
        assertEquals(8, c.latentMultiple());
        assertTrue(c.takesLatents(16, 16));
        assertFalse(c.takesLatents(16, 8));
        assertFalse(c.takesLatents(12, 12));
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(c);
        assertSame(c, unet.config());
        var e = assertThrows(IllegalArgumentException.class, () -> unet.forward(
                new UNetInputs(Tensor.zeros(CpuBackend.get(), DType.F32, 1, 3, 12, 12, 4), null, null, null, null, null), UNetOptions.INFERENCE));
        assertEquals("UNet: latents must be square with a side divisible by 8, got 12x12", e.getMessage());
    }

    /** The toy's drag embedder widths scale the released 256, 320, 320 as c/2, c, c; the up path's heads are the down path's reversed. */
    @Test
    void tinyDragWidthsAndUpPathHeads() {
        assertEquals(List.of(4, 8, 8), UNetConfig.tiny(8, 3, 16).dragEmbedderOutChannels());
        Module up = new UNetSpatioTemporalConditionModel(UNetConfig.puppetMaster()).children().get("up_blocks");
        assertFalse(up.children().get("0").children().containsKey("attentions"), "the lowest up block has no attention");
        int[] heads = {20, 10, 5};                                              // up blocks 1-3: head dim 64 at every level
        for (int i = 1; i <= 3; i++) {
            Module m = up.children().get(String.valueOf(i));
            for (String seg : "attentions.0.transformer_blocks.0.attn1".split("\\.")) m = m.children().get(seg);
            assertEquals(heads[i - 1], ((Attention) m).heads, "up block " + i);
        }
    }

    /**
     * Spec 2.1 and 3.1: the released model's hyper-parameters (the converter builds the Puppet-Master UNet from this preset
     * when a checkpoint carries no engine config), written out here from the spec, not from the preset.
     */
    @Test
    void puppetMasterPresetHasTheSpecsHyperParameters() {
        UNetConfig c = UNetConfig.puppetMaster();
        assertEquals(8, c.inChannels());
        assertEquals(4, c.outChannels());
        assertEquals(List.of(320, 640, 1280, 1280), c.blockOutChannels());
        assertEquals(2, c.layersPerBlock());
        assertEquals(List.of(5, 10, 20, 20), c.numAttentionHeads());           // head dim 64 everywhere
        assertEquals(1, c.transformerLayersPerBlock());
        assertEquals(1024, c.crossAttentionDim());
        assertEquals(14, c.numFrames());
        assertEquals(1280, c.timeEmbedDim());
        assertEquals(5, c.numDrags());                                          // 6K = 30 raster channels
        assertEquals(0.1, c.condDropoutProb());
        assertEquals(64, c.posEmbedDim());
        assertEquals(List.of(256, 320, 320), c.dragEmbedderOutChannels());
        assertFalse(c.useAddEmbedding(), "no added-time conditioning (3.1.1)");
        assertTrue(c.allToFirstAttention(), "all-to-first attn1 (3.1.5)");
        assertEquals(32, c.normNumGroups());
        UNetConfig svd = UNetConfig.svdImg2vid();
        assertTrue(svd.useAddEmbedding() && !svd.allToFirstAttention() && !svd.hasDrags());
        assertEquals(256, svd.additionTimeEmbedDim());
        assertEquals(768, svd.projectionClassEmbeddingsInputDim());
    }

    /**
     * Spec 2.3's "resnet GN eps (PM)" column, for both halves of every SpatioTemporalResBlock, 2.5's transformer in-norm
     * (GN 1e-6), 2.6's LayerNorms (1e-5) and the output GN (1e-5), read off the full-size model (built without weights);
     * the stock SVD UNet keeps diffusers' 1e-6 in its up blocks.
     */
    @Test
    void groupNormEpsFollowTheSpecTablePerBlock() {
        Map<String, Double> gn = new TreeMap<>(), ln = new TreeMap<>();
        norms(new UNetSpatioTemporalConditionModel(UNetConfig.puppetMaster()), "", gn, ln);
        int resnetNorms = 0;
        for (Map.Entry<String, Double> e : gn.entrySet()) {
            String k = e.getKey();
            double expected;
            if (k.equals("conv_norm_out")) expected = 1e-5;
            else if (k.contains(".attentions.")) expected = 1e-6;
            else {
                resnetNorms++;
                assertTrue(k.contains("_res_block.norm"), k);
                if (k.startsWith("mid_block.") || k.startsWith("down_blocks.3.")) expected = 1e-5;
                else if (k.startsWith("down_blocks.") || k.startsWith("up_blocks.0.")) expected = 1e-6;
                else expected = 1e-5;                                           // up_blocks.1-3: PM's WithFlow quirk
            }
            assertEquals(expected, e.getValue(), k);
        }
        assertEquals(22 * 4, resnetNorms, "22 resnets, 2 norms in each half");
        assertEquals(16 * 7, ln.size(), "7 LayerNorms in each of the 16 transformers");
        ln.forEach((k, eps) -> assertEquals(1e-5, eps, k));

        Map<String, Double> svd = new TreeMap<>();
        norms(new UNetSpatioTemporalConditionModel(UNetConfig.svdImg2vid()), "", svd, new TreeMap<>());
        assertEquals(1e-6, svd.get("up_blocks.2.resnets.1.spatial_res_block.norm1"));
        assertEquals(1e-6, svd.get("up_blocks.3.resnets.2.temporal_res_block.norm2"));
        assertEquals(1e-5, svd.get("down_blocks.3.resnets.0.temporal_res_block.norm1"));
    }

    private static void norms(Module m, String path, Map<String, Double> gn, Map<String, Double> ln) {
        if (m instanceof GroupNorm g) gn.put(path, g.eps);
        if (m instanceof LayerNorm l) ln.put(path, l.eps);
        m.children().forEach((name, child) -> norms(child, path.isEmpty() ? name : path + "." + name, gn, ln));
    }
}
