package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.testing.TorchPickles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import static dev.puppetengine.testing.TorchPickles.LITTLE;
import static dev.puppetengine.testing.TorchPickles.MAGIC;
import static dev.puppetengine.testing.TorchPickles.VERSION;
import static dev.puppetengine.testing.TorchPickles.contiguous;
import static dev.puppetengine.testing.TorchPickles.floats;
import static dev.puppetengine.testing.TorchPickles.num;
import static dev.puppetengine.testing.TorchPickles.pid;
import static dev.puppetengine.testing.TorchPickles.str;

/**
 * Synthetic checkpoints of the toy preset's SVD (the model Puppet-Master starts from) with real values in
 * every tensor, in diffusers and sgm naming. Values are small multiples of 1/64 with at most 7 significant bits,
 * exact in fp16, bf16 and fp32, so every storage dtype holds the same numbers.
 */
final class Synthetic {
    private Synthetic() {}

    static final ModelPresets TOY = ModelPresets.named("toy");

    /** A checkpoint-layout tensor: shape and values. */
    record Values(int[] shape, float[] data) {}

    static float value(String key, int i) {
        return ((key.hashCode() & 0xffff) + 31 * i) % 251 / 64f - 125 / 64f;
    }

    static Map<String, Values> diffusers(Module m) {
        Map<String, Values> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            int[] s = e.getValue().checkpointShape();
            float[] v = new float[Shape.numelInt(s)];
            for (int i = 0; i < v.length; i++) v[i] = value(e.getKey(), i);
            out.put(e.getKey(), new Values(s, v));
        }
        return out;
    }

    static Map<String, Values> svdUnet() { return diffusers(new UNetSpatioTemporalConditionModel(TOY.unet().svdBase())); }

    /** quant_conv is the identity, which is what a converted sgm VAE (which has none) gets. */
    static Map<String, Values> vae() {
        Map<String, Values> m = diffusers(new AutoencoderKLTemporalDecoder(TOY.vae()));
        int c = m.get("quant_conv.bias").shape[0];
        float[] eye = new float[c * c];
        for (int i = 0; i < c; i++) eye[i * c + i] = 1;
        m.put("quant_conv.weight", new Values(new int[]{c, c, 1, 1}, eye));
        m.put("quant_conv.bias", new Values(new int[]{c}, new float[c]));
        return m;
    }

    static Map<String, Values> clip() { return diffusers(new ClipVisionModelWithProjection(TOY.clip())); }

    /**
     * The same tensors under sgm names; the test does the value side itself (fusing q/k/v row-wise, transposing
     * the projection, 1x1-conv shapes), so the converter's split and transposes are checked against it.
     */
    static Map<String, Values> sgm(String prefix, Map<String, Values> diffusers, Function<String, SgmNames.Ref> names) {
        Map<String, Values> out = new LinkedHashMap<>();
        for (Map.Entry<String, Values> e : diffusers.entrySet()) {
            SgmNames.Ref ref = names.apply(e.getKey());
            if (ref == null) throw new AssertionError("no sgm name for " + e.getKey());
            Values d = e.getValue();
            String name = prefix + ref.name();
            switch (ref.transform().kind()) {
                case TRANSPOSE: {
                    int r = d.shape[0], c = d.shape[1];
                    float[] t = new float[d.data.length];
                    for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) t[j * r + i] = d.data[i * c + j];
                    out.put(name, new Values(new int[]{c, r}, t));
                    break;
                }
                case ROWS: {
                    int[] s = d.shape.clone();
                    s[0] *= 3;
                    Values fused = out.computeIfAbsent(name, k -> new Values(s, new float[d.data.length * 3]));
                    System.arraycopy(d.data, 0, fused.data, ref.transform().part() * d.data.length, d.data.length);
                    break;
                }
                case SQUEEZE:
                    out.put(name, new Values(new int[]{d.shape[0], d.shape[1], 1, 1}, d.data));
                    break;
                default:
                    out.put(name, d);
            }
        }
        return out;
    }

    static void write(Path file, Map<String, Values> tensors, DType dtype) throws IOException {
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        tensors.forEach((k, v) -> items.add(new SafetensorsWriter.Item(k, dtype, v.shape, out -> out.put(bytes(v.data, dtype)))));
        Files.createDirectories(file.toAbsolutePath().getParent());
        SafetensorsWriter.write(file, Map.of("format", "pt"), items);
    }

    /**
     * The tensors split over {@code shards} files as save_pretrained shards them: base "diffusion_pytorch_model" gives
     * diffusion_pytorch_model-00001-of-0000n.safetensors, ... and diffusion_pytorch_model.safetensors.index.json with
     * the weight_map (variant "fp16": diffusion_pytorch_model.fp16-00001-of-0000n.safetensors and
     * diffusion_pytorch_model.safetensors.index.fp16.json); returns the index.
     */
    static Path writeSharded(Path dir, String base, String variant, Map<String, Values> tensors, DType dtype, int shards) throws IOException {
        String stem = variant == null ? base : base + "." + variant;
        List<Map<String, Values>> parts = new ArrayList<>();
        for (int i = 0; i < shards; i++) parts.add(new LinkedHashMap<>());
        ObjectNode map = Json.mapper().createObjectNode();
        int i = 0;
        for (Map.Entry<String, Values> e : tensors.entrySet()) {
            int shard = i++ * shards / tensors.size();
            parts.get(shard).put(e.getKey(), e.getValue());
            map.put(e.getKey(), String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", stem, shard + 1, shards));
        }
        for (int k = 0; k < shards; k++) write(dir.resolve(String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", stem, k + 1, shards)), parts.get(k), dtype);
        ObjectNode index = Json.mapper().createObjectNode();
        index.putObject("metadata").put("total_size", 0);
        index.set("weight_map", map);
        Path p = dir.resolve(base + ".safetensors.index" + (variant == null ? "" : "." + variant) + ".json");
        Files.writeString(p, index.toPrettyString());
        return p;
    }

    /**
     * A legacy (pre-zip) torch.save file of F32 tensors nested in dicts under {@code wrappers} (outermost first), each dict
     * with an int "epoch" beside, as training scripts save them.
     */
    static void torchFile(Path file, Map<String, Values> tensors, String... wrappers) throws IOException {
        List<Object> object = new ArrayList<>(List.of(0x80, 2));
        for (String w : wrappers) object.addAll(List.of('}', str("epoch"), num(3), 's', str(w)));
        object.add('}');
        List<String> keys = new ArrayList<>();
        List<byte[]> storages = new ArrayList<>();
        for (Map.Entry<String, Values> e : tensors.entrySet()) {
            String key = String.valueOf(keys.size());
            object.addAll(List.of(str(e.getKey()), contiguous(pid("FloatStorage", key, e.getValue().data.length, true), 0, e.getValue().shape), 's'));
            keys.add(key);
            storages.add(floats(e.getValue().data.length, e.getValue().data));
        }
        for (int w = 0; w < wrappers.length; w++) object.add('s');
        object.add('.');
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, TorchPickles.bytes(MAGIC, VERSION, LITTLE, object.toArray(), TorchPickles.keys(keys.toArray(String[]::new)), storages.toArray()));
    }

    /** A progress that records each tensor it is told of, in order. */
    static Progress recording(List<String> steps) {
        return new Progress() {
            @Override
            public void step(String tensor) { steps.add(tensor); }

            @Override
            public void close() {}
        };
    }

    static ByteBuffer bytes(float[] v, DType dtype) {
        ByteBuffer b = ByteBuffer.allocate(v.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            if (dtype == DType.F32) b.putFloat(f);
            else b.putShort(dtype == DType.BF16 ? Half.floatToBf16(f) : Half.floatToF16(f));
        }
        return b.flip();
    }

    /** A diffusers SVD folder of the toy: config.json with diffusers' fields only for the UNet, as the hub has it. */
    static Path diffusersFolder(Path dir, DType dtype) throws IOException {
        write(dir.resolve("unet/diffusion_pytorch_model.safetensors"), svdUnet(), dtype);
        write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), vae(), dtype);
        write(dir.resolve("image_encoder/model.safetensors"), clip(), dtype);
        ObjectNode unet = Json.mapper().valueToTree(TOY.unet().svdBase());
        unet.retain("in_channels", "out_channels", "block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                "num_attention_heads", "transformer_layers_per_block", "cross_attention_dim", "addition_time_embed_dim",
                "projection_class_embeddings_input_dim", "num_frames", "sample_size");
        unet.put("_class_name", "UNetSpatioTemporalConditionModel");
        Files.writeString(dir.resolve("unet/config.json"), unet.toString());
        Files.writeString(dir.resolve("vae/config.json"), Json.mapper().writeValueAsString(TOY.vae()));
        Files.writeString(dir.resolve("image_encoder/config.json"), Json.mapper().writeValueAsString(TOY.clip()));
        return dir;
    }

    /** The toy SVD as one sgm file, with an ignored cond-frame encoder leftover as in Stability's file. */
    static Path sgmFile(Path file, DType dtype) throws IOException {
        return sgmFile(file, dtype, null);
    }

    /**
     * As above, and when {@code condVae} is given, its encoder and quant_conv as the conditioning-frame encoder
     * (conditioner.embedders.3.encoder.*), which the converter takes as the VAE's encoder.
     */
    static Path sgmFile(Path file, DType dtype, Map<String, Values> condVae) throws IOException {
        UNetConfig u = TOY.unet();
        Map<String, Values> all = new LinkedHashMap<>();
        all.putAll(sgm(SgmNames.UNET_PREFIX, svdUnet(), k -> SgmNames.unet(u, k)));
        Map<String, Values> vae = new LinkedHashMap<>(vae());
        vae.remove("quant_conv.weight");                     // sgm's AutoencodingEngine has none
        vae.remove("quant_conv.bias");
        all.putAll(sgm(SgmNames.VAE_PREFIX, vae, k -> SgmNames.vae(TOY.vae().blockOutChannels().size(), k)));
        all.putAll(sgm(SgmNames.CLIP_PREFIX, clip(), SgmNames::clip));
        all.put("conditioner.embedders.3.encoder.conv_in.weight", new Values(new int[]{2, 3}, new float[6]));
        if (condVae != null) {
            Map<String, Values> enc = new LinkedHashMap<>();
            condVae.forEach((k, v) -> { if (k.startsWith("encoder.") || k.startsWith("quant_conv.")) enc.put(k, v); });
            all.putAll(sgm(SgmNames.COND_ENCODER_PREFIX, enc, k -> SgmNames.vae(TOY.vae().blockOutChannels().size(), k)));
        }
        write(file, all, dtype);
        return file;
    }

}
