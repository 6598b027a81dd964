package dev.puppetengine.convert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Plans and writes an engine model directory from detected inputs. Every key the target modules expect is
 * looked up (through {@link SgmNames} for sgm inputs) and its stored shape checked before anything is written;
 * missing, unexpected and mis-shaped tensors are reported together. A plain SVD UNet becomes Puppet-Master's:
 * add_embedding is dropped and the drag modules are created as spec 3.8 says (conv_out zero, so the model
 * starts out as SVD; PyTorch's default init elsewhere, seeded exactly as create-model). Tensors are converted
 * one at a time while the file is written, so the model is never held in memory.
 */
final class EngineConversion {
    private static final CpuBackend CPU = CpuBackend.get();
    private static final ObjectMapper JSON = Json.mapper();
    /** diffusers fields that do not change the weights: the target's values are used whatever the input says. */
    private static final Set<String> FREE_FIELDS = Set.of("num_frames", "sample_size");

    /** One planned component: its config and its tensors (engine layout, produced while writing). */
    record Planned(String component, ComponentInput input, String configJson, Map<String, ComponentFile.Source> tensors, long parameters,
                   List<String> notes) {}

    private final ModelPresets preset;
    private final DType dtype;
    private final long seed;
    private final boolean allowPartial;
    /** Whether a mismatch looks for another preset that matches (not while looking: each would try the other). */
    private final boolean suggest;

    EngineConversion(ModelPresets preset, DType dtype, long seed, boolean allowPartial) {
        this(preset, dtype, seed, allowPartial, true);
    }

    private EngineConversion(ModelPresets preset, DType dtype, long seed, boolean allowPartial, boolean suggest) {
        this.preset = preset;
        this.dtype = dtype;
        this.seed = seed;
        this.allowPartial = allowPartial;
        this.suggest = suggest;
    }

    List<Planned> plan(Inputs inputs) {
        List<Planned> out = new ArrayList<>();
        for (ComponentInput in : inputs.components.values()) out.add(plan(in));
        return out;
    }

    Planned plan(ComponentInput in) {
        switch (in.component()) {
            case ComponentInput.UNET: {
                UNetConfig target = unetConfig(in);
                UNetConfig stored = in.hasDragModules() ? target : target.svdBase();
                if (in.config() != null) checkFields(in, stored);
                Function<String, SgmNames.Ref> names = in.naming() == ComponentInput.Naming.SGM ? k -> SgmNames.unet(target, k) : EngineConversion::same;
                Map<String, Parameter> dropped = new LinkedHashMap<>();
                if (!target.useAddEmbedding())
                    new UNetSpatioTemporalConditionModel(stored).namedParameters().forEach((k, p) -> { if (k.startsWith("add_embedding.")) dropped.put(k, p); });
                return plan(in, new UNetSpatioTemporalConditionModel(target), target, names, dropped);
            }
            case ComponentInput.VAE: {
                VaeConfig cfg = in.config() != null ? parse(in, VaeConfig.class) : preset.vae();
                Function<String, SgmNames.Ref> names = in.naming() == ComponentInput.Naming.SGM
                        ? k -> SgmNames.vae(cfg.blockOutChannels().size(), k) : EngineConversion::same;
                return plan(in, new AutoencoderKLTemporalDecoder(cfg), cfg, names, Map.of());
            }
            case ComponentInput.IMAGE_ENCODER: {
                ClipVisionConfig cfg = in.config() != null ? parse(in, ClipVisionConfig.class) : preset.clip();
                Function<String, SgmNames.Ref> names = in.naming() == ComponentInput.Naming.SGM ? SgmNames::clip : EngineConversion::same;
                return plan(in, new ClipVisionModelWithProjection(cfg), cfg, names, Map.of());
            }
            default:
                throw new AssertionError(in.component());
        }
    }

    private static SgmNames.Ref same(String key) {
        return new SgmNames.Ref(key, Transform.IDENTITY);
    }

    /**
     * The Puppet-Master UNet config to build: an engine export's config.json (it carries the engine fields and
     * drag settings) is used as it is; anything else gets the preset's.
     */
    private UNetConfig unetConfig(ComponentInput in) {
        if (in.config() != null && in.config().has("resnet_eps_down") && in.config().path("num_drags").asInt() > 0) return parse(in, UNetConfig.class);
        return preset.unet();
    }

    private static <T> T parse(ComponentInput in, Class<T> type) {
        try {
            return JSON.treeToValue(in.config(), type);
        } catch (JsonProcessingException e) {
            throw new UserError(in.configFile() + ": not a usable " + in.component() + " config: " + Json.oneLine(e), e);
        } catch (IllegalArgumentException e) {
            throw new UserError(in.configFile() + ": not a usable " + in.component() + " config: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    /**
     * "; it is the toy preset's: give --preset toy" where another Puppet-Master preset takes every tensor of {@code in}
     * as it is (a file given alone has no config.json to say which), else "": --allow-partial would fill in at random
     * what a wrong preset finds mis-shaped.
     */
    private String otherPresetTaking(ComponentInput in) {
        if (!suggest) return "";
        for (String name : new String[]{"puppet-master", "toy"}) {
            if (name.equals(preset.name())) continue;
            try {
                new EngineConversion(ModelPresets.named(name), dtype, seed, false, false).plan(in);
                return "; it is the " + name + " preset's " + in.component() + ": give --preset " + name;
            } catch (UserError | IllegalArgumentException e) {
                // not that one either
            }
        }
        return "";
    }

    /** A config.json that disagrees with the architecture the weights are checked against is the wrong model. */
    private void checkFields(ComponentInput in, Object expected) {
        JsonNode want = JSON.valueToTree(expected);
        List<String> diffs = new ArrayList<>();
        in.config().fields().forEachRemaining(f -> {
            JsonNode w = want.get(f.getKey());
            if (w != null && !FREE_FIELDS.contains(f.getKey()) && !w.equals((a, b) -> a.isNumber() && b.isNumber() ? Double.compare(a.asDouble(), b.asDouble())
                    : a.equals(b) ? 0 : 1, f.getValue()))
                diffs.add(f.getKey() + " is " + f.getValue() + ", expected " + w);
        });
        if (!diffs.isEmpty())
            throw new UserError(in.configFile() + ": not the " + preset.name() + " " + in.component() + " (" + String.join("; ", diffs)
                    + "); choose the matching --preset");
    }

    private Planned plan(ComponentInput in, Module module, Object config, Function<String, SgmNames.Ref> names, Map<String, Parameter> dropped) {
        Map<String, Parameter> params = module.namedParameters();
        Map<String, ComponentFile.Source> sources = new LinkedHashMap<>();
        Set<String> used = new HashSet<>();
        List<String> missing = new ArrayList<>(), misshaped = new ArrayList<>(), notes = new ArrayList<>();
        List<String> initialised = new ArrayList<>();
        boolean sgm = in.naming() == ComponentInput.Naming.SGM, createDrags = !in.hasDragModules();
        int drags = 0;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            String key = e.getKey();
            Parameter p = e.getValue();
            SgmNames.Ref ref = names.apply(key);
            SourceTensor src = ref == null ? null : in.tensors().get(ref.name());
            if (src == null) {
                if (createDrags && ComponentInput.isDragModule(key)) {
                    sources.put(key, ComponentFile.Source.initialised(key, p, seed));
                    drags++;
                } else if (sgm && key.startsWith("quant_conv.")) {
                    sources.put(key, identityConv(p));       // first_stage_model (AutoencodingEngine) has no quant_conv: exact for its encoder
                    if (key.endsWith(".weight")) notes.add("quant_conv: the file has no conditioning-frame encoder copy (" + SgmNames.COND_ENCODER_PREFIX
                            + "*), so the encoder is first_stage_model's, which has no quant_conv: written as the identity");
                } else {
                    missing.add(ref == null ? key + " (no sgm name)" : sgm ? in.prefix() + ref.name() + " (for " + key + ")" : key);
                    if (allowPartial) sources.put(key, ComponentFile.Source.initialised(key, p, seed));
                    initialised.add(key);
                }
                continue;
            }
            used.add(ref.name());
            int[] want = ref.transform().sourceShape(p.checkpointShape());
            String problem = !Arrays.equals(src.shape(), want) ? "shape " + Arrays.toString(src.shape()) + ", expected " + Arrays.toString(want)
                    : !src.dtype().isFloating() ? "dtype " + src.dtype() + ", expected a floating type" : null;
            if (problem != null) {
                misshaped.add(src.name() + ": " + problem + (sgm ? " (for " + key + ")" : ""));
                if (allowPartial) sources.put(key, ComponentFile.Source.initialised(key, p, seed));
                initialised.add(key);
                continue;
            }
            sources.put(key, new ComponentFile.Source(p.shape(), () -> engineValue(src, ref.transform(), p)));
        }
        int droppedCount = 0;
        for (Map.Entry<String, Parameter> d : dropped.entrySet()) {
            String stored = names.apply(d.getKey()).name();
            SourceTensor src = in.tensors().get(stored);
            if (src == null) continue;
            used.add(stored);
            if (!Arrays.equals(src.shape(), d.getValue().checkpointShape()))
                misshaped.add(src.name() + ": shape " + Arrays.toString(src.shape()) + ", expected " + Arrays.toString(d.getValue().checkpointShape()));
            droppedCount++;
        }
        TreeSet<String> unexpected = new TreeSet<>();
        for (String n : in.tensors().keySet()) if (!used.contains(n)) unexpected.add(in.prefix() + n);

        if (droppedCount > 0) notes.add("dropped add_embedding (" + droppedCount + " tensors): Puppet-Master has no added-time conditioning");
        if (drags > 0) notes.add("created " + drags + " drag-module tensors (flow_convs conv_out zero, so the model behaves as SVD; "
                + "PyTorch default init elsewhere, seed " + seed + ")");
        List<String> problems = new ArrayList<>();
        if (!missing.isEmpty()) problems.add(missing.size() + " missing: " + ComponentFile.abbreviate(missing));
        if (!unexpected.isEmpty()) problems.add(unexpected.size() + " unexpected: " + ComponentFile.abbreviate(unexpected));
        if (!misshaped.isEmpty()) problems.add(misshaped.size() + " mis-shaped: " + ComponentFile.abbreviate(misshaped));
        if (!problems.isEmpty()) {
            String what = in.file() + ": does not match the " + preset.name() + " " + in.component() + ": " + String.join("; ", problems);
            if (!allowPartial) throw new UserError(what + otherPresetTaking(in) + " (--allow-partial converts anyway)");
            System.err.println("warning: " + what);   // stdout is convert's report; planned before its bar opens
            if (!initialised.isEmpty()) notes.add(initialised.size() + " missing or mis-shaped tensors initialised (seed " + seed + "), unexpected ones skipped");
        }
        long n = params.values().stream().mapToLong(Parameter::numel).sum();
        try {
            return new Planned(in.component(), in, JSON.writeValueAsString(config), sources, n, notes);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stored bytes -> output dtype -> the key's checkpoint tensor -> engine layout. */
    private Tensor engineValue(SourceTensor src, Transform t, Parameter p) throws IOException {
        try (Tensor stored = src.read(dtype);
             Tensor ckpt = t.apply(stored, p.checkpointShape())) {
            return p.layout().toEngine(ckpt);
        }
    }

    private static ComponentFile.Source identityConv(Parameter p) {
        int[] ckpt = p.checkpointShape();
        return new ComponentFile.Source(p.shape(), () -> {
            double[] v = new double[Math.toIntExact(Shape.numel(ckpt))];
            if (ckpt.length == 1) return Tensor.of(CPU, DType.F32, ckpt, v);     // bias: zero
            for (int i = 0; i < ckpt[0]; i++) v[i * ckpt[1] + i] = 1;
            try (Tensor t = Tensor.of(CPU, DType.F32, ckpt, v)) {
                return p.layout().toEngine(t);
            }
        });
    }

    /** Writes the planned components as a model directory. */
    ModelDirectory.Manifest write(Path out, List<Planned> plan, String source, boolean force, Progress progress) throws IOException {
        Map<String, ModelDirectory.Component> comps = new LinkedHashMap<>();
        for (Planned p : plan) {
            Map<String, ComponentFile.Source> counted = new LinkedHashMap<>();
            p.tensors().forEach((k, s) -> counted.put(k, new ComponentFile.Source(s.shape(), () -> {
                Tensor t = s.value().get();
                progress.step(p.component() + " " + k);
                return t;
            })));
            comps.put(p.component(), new ModelDirectory.Component(p.configJson(), counted));
        }
        // an engine export's UNet config.json says what the model was (DiffusersExport): its kind, resolution and UNet input, else the preset's
        // read checked: asInt/asText would take "abc" for the preset's resolution, true for 1, and write a model no one can load
        ComponentInput unet = plan.stream().filter(p -> p.component().equals(ComponentInput.UNET) && p.input().config() != null)
                .map(Planned::input).findFirst().orElse(null);
        JsonNode cfg = unet == null ? JSON.createObjectNode() : unet.config();
        Path cfgFile = unet == null ? null : unet.configFile();
        String kind = cfg.has(ModelDirectory.KIND) ? Json.text(cfg, ModelDirectory.KIND, cfgFile) : preset.name();
        int resolution = cfg.has(ModelDirectory.RESOLUTION) ? Json.intAtLeast(cfg, ModelDirectory.RESOLUTION, 0, cfgFile) : preset.resolution();
        if (resolution % 64 != 0) throw new UserError(cfgFile + ": field 'resolution' must be a multiple of 64, found " + resolution);
        String input = cfg.has(ModelDirectory.UNET_INPUT) ? Json.text(cfg, ModelDirectory.UNET_INPUT, cfgFile) : null;
        if (input != null && !input.equals(ModelDirectory.UNSCALED))
            throw new UserError(cfgFile + ": field '" + ModelDirectory.UNET_INPUT + "' must be \"" + ModelDirectory.UNSCALED + "\" or absent, found \"" + input + "\"");
        return ModelDirectory.write(out, kind, source, resolution, input == null, dtype, comps, force);
    }
}
