package dev.puppetengine.convert;

import dev.puppetengine.model.unet.UNetConfig;

import java.util.Arrays;
import java.util.Map;

/**
 * Where a diffusers key lives in Stability's single-file (sgm) SVD checkpoint: the rules of ARCHITECTURE.md
 * 6.3, applied in the diffusers -> sgm direction so that every key the engine expects gets exactly one source
 * (open_clip's fused in_proj is the source of three keys). Names are relative to the component's sgm prefix;
 * null means the key has no sgm counterpart (Puppet-Master's drag modules).
 */
final class SgmNames {
    private SgmNames() {}

    static final String UNET_PREFIX = "model.diffusion_model.", VAE_PREFIX = "first_stage_model.",
            CLIP_PREFIX = "conditioner.embedders.0.open_clip.model.visual.";
    /** SVD's conditioning-frame encoder (spec 6.3): a VAE encoder with quant_conv, relative names encoder.* and quant_conv.*. */
    static final String COND_ENCODER_PREFIX = "conditioner.embedders.3.encoder.";

    /** A stored tensor and how it becomes the key's tensor. */
    record Ref(String name, Transform transform) {}

    private static final Map<String, String> RES = Map.of("norm1", "in_layers.0", "conv1", "in_layers.2", "time_emb_proj", "emb_layers.1",
            "norm2", "out_layers.0", "conv2", "out_layers.3", "conv_shortcut", "skip_connection");

    static Ref unet(UNetConfig cfg, String key) {
        String[] s = key.split("\\.");
        int per = cfg.layersPerBlock() + 1;
        switch (s[0]) {
            case "conv_in": return plain("input_blocks.0.0." + tail(s, 1));
            case "conv_norm_out": return plain("out.0." + tail(s, 1));
            case "conv_out": return plain("out.2." + tail(s, 1));
            case "time_embedding": return linearPair(s, "time_embed.");
            case "add_embedding": return linearPair(s, "label_emb.0.");
            case "mid_block":
                if (s[1].equals("attentions") && s[2].equals("0")) return transformer("middle_block.1.", s, 3);
                if (s[1].equals("resnets") && (s[2].equals("0") || s[2].equals("1"))) return resnet("middle_block." + (s[2].equals("0") ? 0 : 2) + ".", s, 3);
                return null;
            case "down_blocks": case "up_blocks": {
                boolean down = s[0].equals("down_blocks");
                int b = Integer.parseInt(s[1]);
                String blocks = down ? "input_blocks." : "output_blocks.";
                if (s[2].equals("downsamplers") || s[2].equals("upsamplers")) {
                    if (!s[3].equals("0") || !s[4].equals("conv")) return null;
                    if (down) return plain(blocks + (b + 1) * per + ".0.op." + tail(s, 5));
                    boolean attn = cfg.upBlockTypes().get(b).equals(UNetConfig.CROSS_UP);
                    return plain(blocks + (b * per + per - 1) + "." + (attn ? 2 : 1) + ".conv." + tail(s, 5));
                }
                if (s.length < 5) return null;
                int layer = down ? 1 + b * per + Integer.parseInt(s[3]) : b * per + Integer.parseInt(s[3]);
                if (s[2].equals("resnets")) return resnet(blocks + layer + ".0.", s, 4);
                if (s[2].equals("attentions")) return transformer(blocks + layer + ".1.", s, 4);
                return null;                                  // flow_convs, drag_token_mlps: Puppet-Master only
            }
            default: return null;
        }
    }

    private static Ref linearPair(String[] s, String prefix) {
        if (s[1].equals("linear_1")) return plain(prefix + "0." + tail(s, 2));
        if (s[1].equals("linear_2")) return plain(prefix + "2." + tail(s, 2));
        return null;
    }

    /** A SpatioTemporalResBlock: spatial part unprefixed, temporal part under time_stack. */
    private static Ref resnet(String prefix, String[] s, int from) {
        if (s[from].equals("time_mixer")) return plain(prefix + tail(s, from));
        String sub = RES.get(s[from + 1]);
        if (sub == null) return null;
        if (s[from].equals("spatial_res_block")) return plain(prefix + sub + "." + tail(s, from + 2));
        if (s[from].equals("temporal_res_block")) return plain(prefix + "time_stack." + sub + "." + tail(s, from + 2));
        return null;
    }

    private static Ref transformer(String prefix, String[] s, int from) {
        if (s[from].equals("temporal_transformer_blocks")) return plain(prefix + "time_stack." + tail(s, from + 1));
        if (s[from].equals("time_pos_embed")) {
            Ref r = linearPair(Arrays.copyOfRange(s, from, s.length), "time_pos_embed.");
            return r == null ? null : plain(prefix + r.name());
        }
        return plain(prefix + tail(s, from));
    }

    private static final Map<String, String> VAE_RES = Map.of("norm1", "norm1", "conv1", "conv1", "norm2", "norm2", "conv2", "conv2",
            "conv_shortcut", "nin_shortcut");
    private static final Map<String, String> VAE_TEMPORAL = Map.of("norm1", "time_stack.in_layers.0", "conv1", "time_stack.in_layers.2",
            "norm2", "time_stack.out_layers.0", "conv2", "time_stack.out_layers.3");
    private static final Map<String, String> VAE_ATTN = Map.of("group_norm", "norm", "to_q", "q", "to_k", "k", "to_v", "v", "to_out", "proj_out");

    static Ref vae(int levels, String key) {
        String[] s = key.split("\\.");
        if (s[0].equals("quant_conv")) return plain(key);
        boolean enc = s[0].equals("encoder");
        if (!enc && !s[0].equals("decoder")) return null;
        String p = s[0] + ".";
        switch (s[1]) {
            case "conv_in": case "conv_out": return plain(p + tail(s, 1));
            case "conv_norm_out": return plain(p + "norm_out." + tail(s, 2));
            case "time_conv_out": return enc ? null : plain(p + "conv_out.time_mix_conv." + tail(s, 2));
            case "mid_block":
                if (s[2].equals("attentions") && s[3].equals("0")) return vaeAttention(p + "mid.attn_1.", s, 4);
                if (s[2].equals("resnets")) return vaeResnet(p + "mid.block_" + (Integer.parseInt(s[3]) + 1) + ".", s, 4, !enc);
                return null;
            case "down_blocks": case "up_blocks": {
                if (enc != s[1].equals("down_blocks")) return null;
                int i = Integer.parseInt(s[2]);
                String level = enc ? p + "down." + i + "." : p + "up." + (levels - 1 - i) + ".";   // sgm numbers decoder levels bottom-up
                if (s[3].equals("resnets")) return vaeResnet(level + "block." + s[4] + ".", s, 5, !enc);
                if ((s[3].equals("downsamplers") || s[3].equals("upsamplers")) && s[4].equals("0") && s[5].equals("conv"))
                    return plain(level + (enc ? "downsample" : "upsample") + ".conv." + tail(s, 6));
                return null;
            }
            default: return null;
        }
    }

    /** Encoder: a plain ResnetBlock; decoder: a VideoResBlock (spatial part unprefixed, temporal part in time_stack). */
    private static Ref vaeResnet(String prefix, String[] s, int from, boolean video) {
        if (!video) {
            String sub = VAE_RES.get(s[from]);
            return sub == null ? null : plain(prefix + sub + "." + tail(s, from + 1));
        }
        if (s[from].equals("time_mixer")) return plain(prefix + tail(s, from + 1));
        Map<String, String> table = s[from].equals("spatial_res_block") ? VAE_RES : s[from].equals("temporal_res_block") ? VAE_TEMPORAL : null;
        String sub = table == null ? null : table.get(s[from + 1]);
        return sub == null ? null : plain(prefix + sub + "." + tail(s, from + 2));
    }

    /** sgm's attention uses 1x1 convs where diffusers has Linear layers. */
    private static Ref vaeAttention(String prefix, String[] s, int from) {
        String sub = VAE_ATTN.get(s[from]);
        if (sub == null) return null;
        int leaf = s[from].equals("to_out") ? from + 2 : from + 1;     // to_out.0.weight
        boolean weight = s[leaf].equals("weight") && !sub.equals("norm");
        return new Ref(prefix + sub + "." + tail(s, leaf), weight ? Transform.SQUEEZE : Transform.IDENTITY);
    }

    private static final Map<String, String> CLIP_LAYER = Map.of("self_attn.out_proj", "attn.out_proj", "layer_norm1", "ln_1",
            "layer_norm2", "ln_2", "mlp.fc1", "mlp.c_fc", "mlp.fc2", "mlp.c_proj");
    private static final String LAYERS = "vision_model.encoder.layers.";

    static Ref clip(String key) {
        switch (key) {
            case "vision_model.embeddings.class_embedding": return plain("class_embedding");
            case "vision_model.embeddings.patch_embedding.weight": return plain("conv1.weight");
            case "vision_model.embeddings.position_embedding.weight": return plain("positional_embedding");
            case "visual_projection.weight": return new Ref("proj", Transform.TRANSPOSE);
            default: break;
        }
        if (key.startsWith("vision_model.pre_layrnorm.")) return plain("ln_pre." + key.substring("vision_model.pre_layrnorm.".length()));
        if (key.startsWith("vision_model.post_layernorm.")) return plain("ln_post." + key.substring("vision_model.post_layernorm.".length()));
        if (!key.startsWith(LAYERS)) return null;
        String rest = key.substring(LAYERS.length());
        int dot = rest.indexOf('.'), last = rest.lastIndexOf('.');
        if (dot < 0 || last <= dot) return null;
        String layer = "transformer.resblocks." + rest.substring(0, dot) + ".", module = rest.substring(dot + 1, last), leaf = rest.substring(last + 1);
        int part = "self_attn.q_proj".equals(module) ? 0 : "self_attn.k_proj".equals(module) ? 1 : "self_attn.v_proj".equals(module) ? 2 : -1;
        if (part >= 0) return new Ref(layer + "attn.in_proj_" + leaf, Transform.rows(part));
        String sub = CLIP_LAYER.get(module);
        return sub == null ? null : plain(layer + sub + "." + leaf);
    }

    private static Ref plain(String name) {
        return new Ref(name, Transform.IDENTITY);
    }

    private static String tail(String[] s, int from) {
        return String.join(".", Arrays.copyOfRange(s, from, s.length));
    }
}
