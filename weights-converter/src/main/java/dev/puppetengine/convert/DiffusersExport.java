package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
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
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Exports an engine model directory as a diffusers folder: {@code <component>/config.json} and its weights
 * with diffusers' file names, PyTorch layouts (conv weights back to (Cout, Cin, kh, kw)) and the
 * {"format": "pt"} metadata transformers requires. config.json carries diffusers' fields and the engine's
 * own (unknown fields are ignored by diffusers), and the UNet's the manifest's kind and resolution, and its unet_input
 * when it is unscaled, so converting the folder back gives the same model whatever --preset says.
 */
final class DiffusersExport {
    private static final ObjectMapper JSON = Json.mapper();

    /** One written file: path relative to the folder, tensors, bytes, sha256. */
    record Written(String file, int tensors, long bytes, String sha256) {}

    private DiffusersExport() {}

    /** The tensor count of a model directory (for the progress bar). */
    static long tensorCount(Path modelDir) throws IOException {
        return ModelDirectory.read(modelDir).components().values().stream().mapToLong(ModelDirectory.Entry::tensors).sum();
    }

    /** Writes the folder; {@code dtype} null keeps each tensor's stored dtype. */
    static List<Written> export(Path modelDir, Path out, DType dtype, boolean force, Progress progress) throws IOException {
        ModelDirectory.Manifest man = ModelDirectory.read(modelDir);
        checkReplaceable(out, force);
        List<Written> written = new ArrayList<>();
        AtomicFile.replaceDirectory(out, dir -> {
            for (Map.Entry<String, ModelDirectory.Entry> c : man.components().entrySet()) {
                try (SafetensorsReader r = SafetensorsReader.open(modelDir.resolve(c.getValue().file()))) {
                    written.add(component(c.getKey(), r, dir, dtype, man, progress));
                }
            }
        });
        return written;
    }

    /**
     * Refuses, before any work, an {@code out} that {@link #export} would not replace: an existing one without {@code force},
     * and with it anything but an empty directory or an earlier export (nothing but component folders, each with its
     * config.json), so a diffusers download with its model_index.json, scheduler and the rest is never deleted.
     */
    static void checkReplaceable(Path out, boolean force) throws IOException {
        AtomicFile.checkReplaceable(out, force, "an earlier export (only " + String.join("/, ", Inputs.COMPONENTS) + "/ folders with config.json)", dir -> {
            try (Stream<Path> s = Files.list(dir)) {
                return s.allMatch(p -> Inputs.COMPONENTS.contains(p.getFileName().toString()) && Files.isRegularFile(p.resolve("config.json")));
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** What {@link #export} checks, without writing: every component's config parses and its tensors are the module's, by name and shape. */
    static void check(Path modelDir) throws IOException {
        ModelDirectory.Manifest man = ModelDirectory.read(modelDir);
        for (Map.Entry<String, ModelDirectory.Entry> c : man.components().entrySet())
            try (SafetensorsReader r = SafetensorsReader.open(modelDir.resolve(c.getValue().file()))) {
                ComponentFile.check(r, target(c.getKey(), r).module().namedParameters());
            }
    }

    /**
     * Where diffusers and Puppet-Master's networks.py will not read the exported folder as the engine does, one line
     * each: they build 32 GroupNorm groups whatever a UNet's or VAE's config says (only the engine reads norm_num_groups),
     * and their pipelines scale the UNet's input by c_in, which a UNet trained unscaled (the manifest's unet_input) was not.
     */
    static List<String> caveats(Path modelDir) throws IOException {
        List<String> out = new ArrayList<>();
        ModelDirectory.Manifest man = ModelDirectory.read(modelDir);
        if (!man.scalesUNetInput())
            out.add("the UNet was trained on the unscaled noisy latent (manifest unet_input); diffusers' SVD pipeline and Puppet-Master's"
                    + " inference feed it the latent scaled by c_in = 1/sqrt(sigma^2 + 1): sample the export without that scaling (its"
                    + " unet/config.json says unet_input unscaled, which only this engine's convert reads back)");
        for (Map.Entry<String, ModelDirectory.Entry> c : man.components().entrySet()) {
            if (c.getKey().equals(ComponentInput.IMAGE_ENCODER)) continue;
            try (SafetensorsReader r = SafetensorsReader.open(modelDir.resolve(c.getValue().file()))) {
                int groups = JSON.readTree(ComponentFile.metadata(r, c.getKey()).get("config")).path("norm_num_groups").asInt(DIFFUSERS_GROUPS);
                if (groups != DIFFUSERS_GROUPS)
                    out.add(c.getKey() + " has norm_num_groups " + groups + ": diffusers and Puppet-Master's networks.py build " + DIFFUSERS_GROUPS
                            + " groups whatever config.json says, so they compute other numbers with it, or refuse it where channels are not"
                            + " divisible by " + DIFFUSERS_GROUPS + " (the engine reads it back exactly)");
            }
        }
        return out;
    }

    private static final int DIFFUSERS_GROUPS = 32;

    /** A component as diffusers lays it out: the module its config builds, that config with diffusers' class fields, the weights file name. */
    private record Target(Module module, ObjectNode json, String weights) {}

    private static Target target(String component, SafetensorsReader r) throws IOException {
        String config = ComponentFile.metadata(r, component).get("config");
        ObjectNode json = (ObjectNode) JSON.readTree(config);
        switch (component) {
            case ComponentInput.UNET: {
                UNetConfig cfg = JSON.readValue(config, UNetConfig.class);
                json.put("_class_name", cfg.hasDrags() ? "UNetDragSpatioTemporalConditionModel" : "UNetSpatioTemporalConditionModel");
                return new Target(new UNetSpatioTemporalConditionModel(cfg), json, "diffusion_pytorch_model.safetensors");
            }
            case ComponentInput.VAE:
                json.put("_class_name", "AutoencoderKLTemporalDecoder");
                return new Target(new AutoencoderKLTemporalDecoder(JSON.readValue(config, VaeConfig.class)), json, "diffusion_pytorch_model.safetensors");
            case ComponentInput.IMAGE_ENCODER:
                json.putArray("architectures").add("CLIPVisionModelWithProjection");
                json.put("model_type", "clip_vision_model");
                return new Target(new ClipVisionModelWithProjection(JSON.readValue(config, ClipVisionConfig.class)), json, "model.safetensors");
            default:
                throw new CheckpointException(r.file(), "unknown component '" + component + "'");
        }
    }

    private static Written component(String component, SafetensorsReader r, Path dir, DType dtype, ModelDirectory.Manifest man, Progress progress)
            throws IOException {
        Target target = target(component, r);
        Module module = target.module();
        ObjectNode json = target.json();
        if (component.equals(ComponentInput.UNET)) {   // what the model is beyond its weights, read back by convert (EngineConversion.write)
            json.put(ModelDirectory.KIND, man.kind()).put(ModelDirectory.RESOLUTION, man.resolution());
            if (!man.scalesUNetInput()) json.put(ModelDirectory.UNET_INPUT, ModelDirectory.UNSCALED);
        }
        String weights = target.weights();
        Map<String, Parameter> params = module.namedParameters();
        ComponentFile.check(r, params);
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            SafetensorsEntry stored = r.entry(e.getKey());
            DType out = dtype != null ? dtype : stored.dtype();
            items.add(new SafetensorsWriter.Item(e.getKey(), out, p.checkpointShape(), sink -> {
                try (Scope s = Scope.open()) {
                    Tensor t = new SourceTensor(r.file(), e.getKey(), stored.dtype(), stored.shape(), () -> r.read(e.getKey())).read(out);
                    sink.put(p.layout().toCheckpoint(t).toBytes());
                    progress.step(component + " " + e.getKey());
                }
            }));
        }
        Path sub = Files.createDirectories(dir.resolve(component));
        AtomicFile.writeString(sub.resolve("config.json"), JSON.writeValueAsString(json));
        Path file = sub.resolve(weights);
        SafetensorsWriter.write(file, Map.of("format", "pt"), items);
        return new Written(component + "/" + weights, items.size(), Files.size(file), ModelDirectory.sha256(file));
    }
}
