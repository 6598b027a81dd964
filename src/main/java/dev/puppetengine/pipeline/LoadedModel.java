package dev.puppetengine.pipeline;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The three components of an engine model directory, built from their configs and loaded on one backend. */
public final class LoadedModel implements AutoCloseable {
    public final ModelDirectory.Manifest manifest;
    public final UNetSpatioTemporalConditionModel unet;
    public final AutoencoderKLTemporalDecoder vae;
    public final ClipVisionModelWithProjection clip;
    private final List<ParameterStore> stores = new ArrayList<>();
    private final ParameterStore unetWeights;

    private LoadedModel(ModelDirectory.Manifest manifest, UNetSpatioTemporalConditionModel unet, AutoencoderKLTemporalDecoder vae,
                        ClipVisionModelWithProjection clip, ParameterStore unetWeights) {
        this.manifest = manifest;
        this.unet = unet;
        this.vae = vae;
        this.clip = clip;
        this.unetWeights = unetWeights;
    }

    public ParameterStore unetWeights() { return unetWeights; }

    /** The weights of the VAE (index 1) and image encoder (index 2), as loaded (closed, as the UNet's, once this model is). */
    public ParameterStore vaeWeights() { return stores.get(1); }

    public ParameterStore imageEncoderWeights() { return stores.get(2); }

    /**
     * Writes this model (its modules' current parameter values) as a new model directory; its manifest's
     * source is this model's source followed by {@code sourceNote}, so a model carries its history. {@code configs}
     * overrides a component's config JSON (e.g. a VAE with a new scaling factor); {@code scaledInput} false for a UNet
     * trained on the unscaled noisy latent (recorded, so sampling feeds it that way).
     */
    public ModelDirectory.Manifest save(Path dir, String kind, String sourceNote, boolean scaledInput, DType dtype, Map<String, String> configs,
                                        boolean force) throws IOException {
        ObjectMapper json = Json.mapper();
        Map<String, ModelDirectory.Component> c = new LinkedHashMap<>();
        c.put("unet", ModelDirectory.Component.of(configs.getOrDefault("unet", json.writeValueAsString(unet.config())), unet.namedParameters()));
        c.put("vae", ModelDirectory.Component.of(configs.getOrDefault("vae", json.writeValueAsString(vae.config())), vae.namedParameters()));
        c.put("image_encoder", ModelDirectory.Component.of(configs.getOrDefault("image_encoder", json.writeValueAsString(clip.config())),
                clip.namedParameters()));
        String history = manifest.source() == null || manifest.source().isBlank() ? sourceNote : manifest.source() + "; then " + sourceNote;
        return ModelDirectory.write(dir, kind, history, resolution(), scaledInput, dtype, c, force);
    }

    /**
     * A preset with freshly initialised weights, built in memory (nothing read or written): benchmarks of the
     * full-size architecture on machines that cannot download the real weights.
     */
    public static LoadedModel random(ModelPresets p, Backend backend, DType dtype, long seed) {
        var unet = new UNetSpatioTemporalConditionModel(p.unet());
        var vae = new AutoencoderKLTemporalDecoder(p.vae());
        var clip = new ClipVisionModelWithProjection(p.clip());
        List<ParameterStore> opened = new ArrayList<>();
        try {
            for (Module m : new Module[]{unet, vae, clip}) opened.add(ParameterStore.initialize(m, backend, dtype, seed));
        } catch (RuntimeException e) {
            opened.forEach(ParameterStore::close);
            throw e;
        }
        var man = new ModelDirectory.Manifest(ModelDirectory.FORMAT, ModelDirectory.VERSION, p.name() + "-random", dtype.name(),
                "random initialisation, seed " + seed, p.resolution(), Map.of(), null);
        LoadedModel lm = new LoadedModel(man, unet, vae, clip, opened.get(0));
        lm.stores.addAll(opened);
        return lm;
    }

    /**
     * Loads the three components of model directory {@code dir} onto {@code backend}, weights converted to {@code dtype}
     * (a floating type). On failure nothing stays allocated or open. Close the model to free its weights.
     */
    public static LoadedModel load(Path dir, Backend backend, DType dtype) throws IOException {
        checkArguments(dir, backend, dtype);
        ModelDirectory.Manifest man = require(dir, ModelDirectory.read(dir), "sampling", "unet", "vae", "image_encoder");
        List<ParameterStore> opened = new ArrayList<>();
        try {
            UNetSpatioTemporalConditionModel unet = component(dir, man, "unet", UNetConfig.class, cfg -> {
                if (!cfg.hasDrags())
                    throw new CheckpointException(dir, "holds a plain SVD UNet (no drag modules); sampling needs a Puppet-Master model "
                            + "(convert SVD with ./puppet-engine convert, which adds the drag modules)");
                return new UNetSpatioTemporalConditionModel(cfg);
            }, backend, dtype, opened);
            ParameterStore uw = opened.get(0);
            AutoencoderKLTemporalDecoder vae = component(dir, man, "vae", VaeConfig.class, AutoencoderKLTemporalDecoder::new, backend, dtype, opened);
            ClipVisionModelWithProjection clip = component(dir, man, "image_encoder", ClipVisionConfig.class, ClipVisionModelWithProjection::new,
                    backend, dtype, opened);
            LoadedModel m = new LoadedModel(man, unet, vae, clip, uw);
            m.stores.addAll(opened);
            return m;
        } catch (IOException | RuntimeException e) {
            opened.forEach(ParameterStore::close);
            throw e;
        }
    }

    /** The VAE and image encoder of a model directory, without its UNet (most of a model's weights): what encoding a dataset needs. */
    public static final class Encoders implements AutoCloseable {
        public final AutoencoderKLTemporalDecoder vae;
        public final ClipVisionModelWithProjection clip;
        private final List<ParameterStore> stores;

        private Encoders(AutoencoderKLTemporalDecoder vae, ClipVisionModelWithProjection clip, List<ParameterStore> stores) {
            this.vae = vae;
            this.clip = clip;
            this.stores = stores;
        }

        @Override
        public void close() {
            stores.forEach(ParameterStore::close);
        }
    }

    /** Loads them as {@link #load} does, from the files that {@code man} (read from {@code dir}) names. */
    public static Encoders loadEncoders(Path dir, ModelDirectory.Manifest man, Backend backend, DType dtype) throws IOException {
        checkArguments(dir, backend, dtype);
        require(dir, man, "encoding", "vae", "image_encoder");
        List<ParameterStore> opened = new ArrayList<>();
        try {
            AutoencoderKLTemporalDecoder vae = component(dir, man, "vae", VaeConfig.class, AutoencoderKLTemporalDecoder::new, backend, dtype, opened);
            ClipVisionModelWithProjection clip = component(dir, man, "image_encoder", ClipVisionConfig.class, ClipVisionModelWithProjection::new,
                    backend, dtype, opened);
            return new Encoders(vae, clip, opened);
        } catch (IOException | RuntimeException e) {
            opened.forEach(ParameterStore::close);
            throw e;
        }
    }

    /** Component {@code name}'s config, read from the metadata of the file that {@code man} (read from {@code dir}) names: no weights are loaded. */
    public static <C> C config(Path dir, ModelDirectory.Manifest man, String name, Class<C> configType) throws IOException {
        require(dir, man, null, name);
        Path file = dir.resolve(man.components().get(name).file());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return config(file, r, name, configType);
        }
    }

    /** A caller's null or integer dtype, refused with what was expected (not an NPE, or a file blamed for it, from deep in loading). */
    private static void checkArguments(Path dir, Backend backend, DType dtype) {
        if (dir == null) throw new IllegalArgumentException("model directory is null");
        if (backend == null) throw new IllegalArgumentException("backend is null (Backends.select(\"auto\") picks one)");
        if (dtype == null || !dtype.isFloating())
            throw new IllegalArgumentException("dtype must be a floating type (F32, BF16, F16 or F64), got " + dtype);
    }

    /** Manifest {@code man} of {@code dir}, refused when it lacks a component that {@code use} (null: the one asked for) needs. */
    private static ModelDirectory.Manifest require(Path dir, ModelDirectory.Manifest man, String use, String... needed) {
        for (String c : needed)
            if (!man.components().containsKey(c))
                throw new CheckpointException(dir, "has no '" + c + "' component" + (use == null ? "" : "; " + use + " needs " + String.join(", ", needed)));
        return man;
    }

    private static <C> C config(Path file, SafetensorsReader r, String name, Class<C> configType) throws IOException {
        try {
            C config = Json.mapper().readValue(ComponentFile.metadata(r, name).get("config"), configType);
            if (config == null) throw new CheckpointException(file, "the " + name + " config in its metadata is null, expected a JSON object");
            return config;
        } catch (JacksonException e) {
            throw new CheckpointException(file, "the " + name + " config in its metadata is invalid: " + Json.oneLine(e));
        }
    }

    /** One component: its module built from the config in its file's metadata, weights loaded into a new store (added to {@code opened}). */
    private static <C, M extends Module> M component(Path dir, ModelDirectory.Manifest man, String name, Class<C> configType, Function<C, M> build,
                                                     Backend backend, DType dtype, List<ParameterStore> opened) throws IOException {
        Path file = dir.resolve(man.components().get(name).file());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            // read again once the file is open: a directory replaced since man was read (a training run exporting there)
            // would pair its weights with another model's manifest and checksums
            if (!ModelDirectory.read(dir).equals(man))
                throw new CheckpointException(dir, "was replaced while it was being loaded (its " + ModelDirectory.MANIFEST
                        + " changed since it was read): load it again");
            M m = build.apply(config(file, r, name, configType));
            ParameterStore s = ParameterStore.allocate(m, backend, dtype);
            opened.add(s);
            ComponentFile.load(r, s);
            return m;
        }
    }

    /** The image side the model generates: the VAE's downscale factor times the latent side it was built for. */
    public int resolution() {
        return manifest.resolution() > 0 ? manifest.resolution() : 256;
    }

    @Override
    public void close() {
        stores.forEach(ParameterStore::close);
    }
}
