package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.data.synthetic.GeneratorConfig;
import dev.puppetengine.train.data.synthetic.ProgressListener;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Fixtures of the command tests: a random model smaller than the toy preset (64 x 64 output), and a few synthetic clips. */
final class TinyModel {
    static final int SIDE = 64;

    private TinyModel() {}

    static Path write(Path dir) throws IOException {
        return write(dir, UNetConfig.tiny(8, 14, 16), "tiny-random");
    }

    /** The same model with another UNet config (e.g. one without drag modules) and manifest kind. */
    static Path write(Path dir, UNetConfig unet, String kind) throws IOException {
        return write(dir, unet, SIDE, kind);
    }

    /**
     * The tiny model whose every decoded value is NaN, its weights all finite (loading refuses others): the decoder's
     * input is latents / scaling factor, and a factor of 1.4e-45 puts that past the float range.
     */
    static Path writeDecodingNaN(Path dir) throws IOException {
        try (LoadedModel m = LoadedModel.load(write(dir.resolveSibling(dir.getFileName() + "-source")), CpuBackend.get(), DType.F32)) {
            String vae = Json.mapper().writeValueAsString(m.vae.config().withScalingFactor(Float.MIN_VALUE));
            m.save(dir, "decoding-nan", "VAE scaling factor 1.4e-45", true, DType.F32, Map.of("vae", vae), false);
        }
        return dir;
    }

    /** At another output side; the image encoder's projection is the UNet's cross_attention_dim. */
    static Path write(Path dir, UNetConfig unet, int side, String kind) throws IOException {
        VaeConfig vae = VaeConfig.tiny(8);
        ClipVisionConfig clip = ClipVisionConfig.tiny(32, 8, unet.crossAttentionDim());
        Map<String, Module> modules = new LinkedHashMap<>();
        modules.put("unet", new UNetSpatioTemporalConditionModel(unet));
        modules.put("vae", new AutoencoderKLTemporalDecoder(vae));
        modules.put("image_encoder", new ClipVisionModelWithProjection(clip));
        Map<String, Object> configs = Map.of("unet", unet, "vae", vae, "image_encoder", clip);
        Map<String, ModelDirectory.Component> comps = new LinkedHashMap<>();
        Map<String, ParameterStore> stores = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Module> e : modules.entrySet()) {
                ParameterStore s = ParameterStore.initialize(e.getValue(), CpuBackend.get(), DType.F32, 1);
                stores.put(e.getKey(), s);
                comps.put(e.getKey(), ModelDirectory.Component.of(Json.mapper().writeValueAsString(configs.get(e.getKey())), s.parameters()));
            }
            ModelDirectory.write(dir, kind, "test fixture", side, true, DType.F32, comps, false);
        } finally {
            stores.values().forEach(ParameterStore::close);
        }
        return dir;
    }

    /** {@code count} clips of {@code frames} frames at 64 x 64, all in the validation split. */
    static Path clips(Path dir, int count, int frames) throws IOException {
        GeneratorConfig d = GeneratorConfig.defaults(SIDE, frames);
        GeneratorConfig allVal = new GeneratorConfig(SIDE, frames, d.candidates(), d.staticDragProbability(), 1.0, d.kindWeights());
        SyntheticDataset.generate(dir, count, 5, allVal, ProgressListener.NONE);
        return dir;
    }
}
