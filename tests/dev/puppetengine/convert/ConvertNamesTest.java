package dev.puppetengine.convert;

import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Full-size name and shape mapping, checked without any weight data: key lists, the spec's rules, and a dry planning pass. */
class ConvertNamesTest {
    private static final ModelPresets PM = ModelPresets.named("puppet-master");

    /** pm_unet_keys.txt: the released checkpoint's keys and shapes. */
    private static Map<String, String> pmKeys() throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(ConvertNamesTest.class.getResourceAsStream("/spec/pm_unet_keys.txt"), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) continue;
                int sp = line.indexOf(' ');
                out.put(line.substring(0, sp), line.substring(sp + 1));
            }
        }
        return out;
    }

    @Test
    void everySvdUnetKeyHasOneSgmNameAndDragModulesHaveNone() throws IOException {
        Map<String, String> keys = pmKeys();
        assertEquals(1664, keys.size());
        Map<String, String> seen = new HashMap<>();
        int drag = 0;
        for (String k : keys.keySet()) {
            SgmNames.Ref ref = SgmNames.unet(PM.unet(), k);
            if (ComponentInput.isDragModule(k)) {
                assertNull(ref, k);
                drag++;
                continue;
            }
            assertNotNull(ref, k);
            assertEquals(Transform.IDENTITY, ref.transform(), k);
            String before = seen.put(ref.name(), k);
            assertNull(before, ref.name() + " is the sgm name of both " + before + " and " + k);
        }
        assertEquals(240, drag);
        for (String k : List.of("add_embedding.linear_1.weight", "add_embedding.linear_2.bias"))
            assertNull(seen.put(SgmNames.unet(PM.unet(), k).name(), k));
    }

    /** Every sgm name the converter reads for SVD, against the real file's key list (tests/resources/convert/svd_sgm_keys.txt). */
    @Test
    void sgmNamesAreTheRealFilesKeys() throws IOException {
        Set<String> real = new TreeSet<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(ConvertNamesTest.class.getResourceAsStream("/convert/svd_sgm_keys.txt"), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) if (!line.isBlank() && !line.startsWith("#")) real.add(line.strip());
        }
        assertEquals(2194, real.size());
        ModelPresets svd = ModelPresets.named("svd-img2vid");
        Set<String> ours = new TreeSet<>();
        for (String k : new UNetSpatioTemporalConditionModel(svd.unet()).namedParameters().keySet())
            ours.add(SgmNames.UNET_PREFIX + SgmNames.unet(svd.unet(), k).name());
        int levels = svd.vae().blockOutChannels().size();
        for (String k : new AutoencoderKLTemporalDecoder(svd.vae()).namedParameters().keySet())   // the encoder and quant_conv: SVD's conditioning-frame encoder
            ours.add((k.startsWith("decoder.") ? SgmNames.VAE_PREFIX : SgmNames.COND_ENCODER_PREFIX) + SgmNames.vae(levels, k).name());
        for (String k : new ClipVisionModelWithProjection(svd.clip()).namedParameters().keySet())
            ours.add(SgmNames.CLIP_PREFIX + SgmNames.clip(k).name());
        Set<String> missing = new TreeSet<>(real), extra = new TreeSet<>(ours);
        missing.removeAll(ours);
        extra.removeAll(real);
        assertEquals(List.of(), List.copyOf(extra), "names the converter would look for that the file does not have");
        assertEquals(List.of(), List.copyOf(missing), "tensors of the file the converter would not read");
    }

    @Test
    void unetRulesOfTheSpec() {
        Map<String, String> spec = Map.ofEntries(
                Map.entry("conv_in.weight", "input_blocks.0.0.weight"),
                Map.entry("time_embedding.linear_2.bias", "time_embed.2.bias"),
                Map.entry("add_embedding.linear_1.weight", "label_emb.0.0.weight"),
                Map.entry("conv_norm_out.weight", "out.0.weight"),
                Map.entry("conv_out.bias", "out.2.bias"),
                Map.entry("down_blocks.0.resnets.0.spatial_res_block.norm1.weight", "input_blocks.1.0.in_layers.0.weight"),
                Map.entry("down_blocks.1.resnets.0.spatial_res_block.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight"),
                Map.entry("down_blocks.2.resnets.1.temporal_res_block.conv2.weight", "input_blocks.8.0.time_stack.out_layers.3.weight"),
                Map.entry("down_blocks.3.resnets.1.spatial_res_block.time_emb_proj.bias", "input_blocks.11.0.emb_layers.1.bias"),
                Map.entry("down_blocks.0.resnets.1.time_mixer.mix_factor", "input_blocks.2.0.time_mixer.mix_factor"),
                Map.entry("down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"),
                Map.entry("down_blocks.2.downsamplers.0.conv.bias", "input_blocks.9.0.op.bias"),
                Map.entry("down_blocks.1.attentions.1.proj_in.weight", "input_blocks.5.1.proj_in.weight"),
                Map.entry("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"),
                Map.entry("down_blocks.0.attentions.0.temporal_transformer_blocks.0.ff_in.net.0.proj.weight", "input_blocks.1.1.time_stack.0.ff_in.net.0.proj.weight"),
                Map.entry("down_blocks.0.attentions.0.time_pos_embed.linear_1.weight", "input_blocks.1.1.time_pos_embed.0.weight"),
                Map.entry("down_blocks.0.attentions.0.time_mixer.mix_factor", "input_blocks.1.1.time_mixer.mix_factor"),
                Map.entry("mid_block.resnets.0.spatial_res_block.conv1.weight", "middle_block.0.in_layers.2.weight"),
                Map.entry("mid_block.attentions.0.norm.bias", "middle_block.1.norm.bias"),
                Map.entry("mid_block.resnets.1.temporal_res_block.norm2.weight", "middle_block.2.time_stack.out_layers.0.weight"),
                Map.entry("up_blocks.0.resnets.2.spatial_res_block.conv1.weight", "output_blocks.2.0.in_layers.2.weight"),
                Map.entry("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"),
                Map.entry("up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"),
                Map.entry("up_blocks.2.upsamplers.0.conv.bias", "output_blocks.8.2.conv.bias"),
                Map.entry("up_blocks.3.attentions.2.proj_out.weight", "output_blocks.11.1.proj_out.weight"),
                Map.entry("up_blocks.1.resnets.0.spatial_res_block.conv_shortcut.weight", "output_blocks.3.0.skip_connection.weight"));
        spec.forEach((d, s) -> assertEquals(s, SgmNames.unet(PM.unet(), d).name(), d));
    }

    @Test
    void vaeAndClipRulesOfTheSpec() {
        Map<String, String> vae = Map.ofEntries(
                Map.entry("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", "encoder.down.1.block.0.nin_shortcut.weight"),
                Map.entry("encoder.down_blocks.0.downsamplers.0.conv.weight", "encoder.down.0.downsample.conv.weight"),
                Map.entry("encoder.mid_block.resnets.1.norm2.bias", "encoder.mid.block_2.norm2.bias"),
                Map.entry("encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid.attn_1.norm.weight"),
                Map.entry("encoder.conv_norm_out.bias", "encoder.norm_out.bias"),
                Map.entry("decoder.up_blocks.0.resnets.0.spatial_res_block.conv1.weight", "decoder.up.3.block.0.conv1.weight"),
                Map.entry("decoder.up_blocks.3.resnets.0.spatial_res_block.conv_shortcut.bias", "decoder.up.0.block.0.nin_shortcut.bias"),
                Map.entry("decoder.up_blocks.1.resnets.2.temporal_res_block.conv1.weight", "decoder.up.2.block.2.time_stack.in_layers.2.weight"),
                Map.entry("decoder.up_blocks.1.resnets.2.time_mixer.mix_factor", "decoder.up.2.block.2.mix_factor"),
                Map.entry("decoder.up_blocks.2.upsamplers.0.conv.weight", "decoder.up.1.upsample.conv.weight"),
                Map.entry("decoder.mid_block.resnets.0.temporal_res_block.norm1.bias", "decoder.mid.block_1.time_stack.in_layers.0.bias"),
                Map.entry("decoder.conv_out.weight", "decoder.conv_out.weight"),
                Map.entry("decoder.time_conv_out.weight", "decoder.conv_out.time_mix_conv.weight"));
        vae.forEach((d, s) -> assertEquals(new SgmNames.Ref(s, Transform.IDENTITY), SgmNames.vae(4, d), d));
        assertEquals(new SgmNames.Ref("decoder.mid.attn_1.proj_out.weight", Transform.SQUEEZE), SgmNames.vae(4, "decoder.mid_block.attentions.0.to_out.0.weight"));
        assertEquals(new SgmNames.Ref("encoder.mid.attn_1.q.bias", Transform.IDENTITY), SgmNames.vae(4, "encoder.mid_block.attentions.0.to_q.bias"));

        assertEquals(new SgmNames.Ref("transformer.resblocks.31.attn.in_proj_weight", Transform.rows(2)),
                SgmNames.clip("vision_model.encoder.layers.31.self_attn.v_proj.weight"));
        assertEquals(new SgmNames.Ref("transformer.resblocks.0.attn.in_proj_bias", Transform.rows(0)),
                SgmNames.clip("vision_model.encoder.layers.0.self_attn.q_proj.bias"));
        assertEquals(new SgmNames.Ref("proj", Transform.TRANSPOSE), SgmNames.clip("visual_projection.weight"));
        assertEquals("transformer.resblocks.7.mlp.c_proj.weight", SgmNames.clip("vision_model.encoder.layers.7.mlp.fc2.weight").name());
        assertEquals("positional_embedding", SgmNames.clip("vision_model.embeddings.position_embedding.weight").name());
        assertEquals("ln_pre.bias", SgmNames.clip("vision_model.pre_layrnorm.bias").name());
    }

    /** Stored tensors with headers only: their bytes must never be read while planning. */
    private static Map<String, SourceTensor> headerOnly(String prefix, Module m, Function<String, SgmNames.Ref> names) {
        Map<String, SourceTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            SgmNames.Ref ref = names.apply(e.getKey());
            int[] shape = ref.transform().sourceShape(e.getValue().checkpointShape());
            out.put(ref.name(), new SourceTensor(Path.of("svd.safetensors"), prefix + ref.name(), DType.F16, shape, () -> {
                throw new AssertionError("planning read tensor data");
            }));
        }
        return out;
    }

    @Test
    void fullSizeSvdInSgmAndDiffusersNamesPlansThePuppetMasterModel() {
        UNetConfig svd = PM.unet().svdBase();
        EngineConversion conv = new EngineConversion(PM, DType.BF16, 0, false);
        Map<String, Function<String, SgmNames.Ref>> sgmNames = Map.of(
                ComponentInput.UNET, k -> SgmNames.unet(svd, k), ComponentInput.VAE, k -> SgmNames.vae(4, k), ComponentInput.IMAGE_ENCODER, SgmNames::clip);
        Map<String, Module> modules = Map.of(ComponentInput.UNET, new UNetSpatioTemporalConditionModel(svd),
                ComponentInput.VAE, new AutoencoderKLTemporalDecoder(PM.vae()), ComponentInput.IMAGE_ENCODER, new ClipVisionModelWithProjection(PM.clip()));
        Map<String, Long> params = Map.of(ComponentInput.UNET, 1_675_809_962L, ComponentInput.VAE, 97_742_847L, ComponentInput.IMAGE_ENCODER, 632_076_800L);
        for (String c : Inputs.COMPONENTS) {
            Module m = modules.get(c);
            if (c.equals(ComponentInput.VAE)) {       // sgm has no quant_conv
                Map<String, SourceTensor> t = headerOnly(SgmNames.VAE_PREFIX, m, sgmNames.get(c));
                t.remove("quant_conv.weight");
                t.remove("quant_conv.bias");
                assertPlanned(conv.plan(new ComponentInput(c, ComponentInput.Naming.SGM, Path.of("svd.safetensors"), SgmNames.VAE_PREFIX, t, null, null)), params.get(c));
            } else {
                String prefix = c.equals(ComponentInput.UNET) ? SgmNames.UNET_PREFIX : SgmNames.CLIP_PREFIX;
                assertPlanned(conv.plan(new ComponentInput(c, ComponentInput.Naming.SGM, Path.of("svd.safetensors"), prefix,
                        headerOnly(prefix, m, sgmNames.get(c)), null, null)), params.get(c));
            }
            assertPlanned(conv.plan(new ComponentInput(c, ComponentInput.Naming.DIFFUSERS, Path.of(c), "",
                    headerOnly("", m, k -> new SgmNames.Ref(k, Transform.IDENTITY)), null, null)), params.get(c));
        }
    }

    private static void assertPlanned(EngineConversion.Planned p, long params) {
        assertEquals(params, p.parameters(), p.component());
        if (p.component().equals(ComponentInput.UNET)) {
            assertEquals(1664, p.tensors().size());
            assertTrue(p.notes().stream().anyMatch(n -> n.startsWith("dropped add_embedding (4 tensors)")), p.notes().toString());
            assertTrue(p.notes().stream().anyMatch(n -> n.startsWith("created 240 drag-module tensors")), p.notes().toString());
        }
    }
}
