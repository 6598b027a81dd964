package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Opens the inputs of a conversion and tells what they are by their layout and tensor names: a Stability
 * single-file (sgm) checkpoint, a diffusers folder (unet/, vae/, image_encoder/ with config.json, .fp16
 * variants, whole or sharded), or a single component file with diffusers names (Puppet-Master's released UNet, an SVD UNet, a
 * torch EMA state dict, ...). A later input's component replaces an earlier one's (PM UNet over SVD's).
 */
final class Inputs implements AutoCloseable {
    private static final String[] UNET_ROOTS = {"conv_in.", "time_embedding.", "add_embedding.", "down_blocks.", "mid_block.", "up_blocks.",
            "conv_norm_out.", "conv_out."};
    private static final String[] VAE_ROOTS = {"encoder.", "decoder.", "quant_conv."};
    private static final String[] CLIP_ROOTS = {"vision_model.", "visual_projection."};
    /** Weight files of a diffusers component folder, in order of preference (full precision first), each whole or sharded. */
    private static final Map<String, List<String>> WEIGHTS = Map.of(
            ComponentInput.UNET, wholeOrSharded("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
            ComponentInput.VAE, wholeOrSharded("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
            ComponentInput.IMAGE_ENCODER, wholeOrSharded("model.safetensors", "pytorch_model.bin"));
    static final List<String> COMPONENTS = List.of(ComponentInput.UNET, ComponentInput.VAE, ComponentInput.IMAGE_ENCODER);

    /**
     * Per weights name (X.safetensors): the whole file, its shards' index, the fp16 variant (X.fp16.safetensors) and
     * that variant's index (X.safetensors.index.fp16.json), save_pretrained's names.
     */
    private static List<String> wholeOrSharded(String... names) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            int dot = n.lastIndexOf('.');
            List<String> index = InputFile.indexNames(n);
            out.addAll(List.of(n, index.get(0), n.substring(0, dot) + ".fp16" + n.substring(dot), index.get(1)));
        }
        return List.copyOf(out);
    }

    private final List<InputFile> opened = new ArrayList<>();
    final Map<String, ComponentInput> components = new LinkedHashMap<>();
    final List<String> descriptions = new ArrayList<>();

    /** Opens and classifies every input, printing what was detected. */
    static Inputs open(List<Path> paths, PrintStream log) throws IOException {
        Inputs in = new Inputs();
        try {
            for (Path p : paths) {
                List<ComponentInput> found = in.detect(p);
                for (ComponentInput c : found) {
                    ComponentInput before = in.components.put(c.component(), c);
                    if (before != null) log.println("  " + c.component() + " from " + c.file() + " replaces the one in " + before.file());
                }
            }
            Map<String, ComponentInput> ordered = new LinkedHashMap<>();
            for (String c : COMPONENTS) if (in.components.containsKey(c)) ordered.put(c, in.components.get(c));
            in.components.clear();
            in.components.putAll(ordered);
            in.descriptions.forEach(d -> log.println("detected " + d));
            return in;
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    private List<ComponentInput> detect(Path p) throws IOException {
        if (Files.isDirectory(p)) {
            if (Files.isRegularFile(p.resolve(ModelDirectory.MANIFEST)))
                throw new UserError(p + " is already an engine model directory (use --to diffusers to export it)");
            List<ComponentInput> out = new ArrayList<>();
            for (String c : COMPONENTS) {
                Path sub = p.resolve(c);
                if (Files.isDirectory(sub)) out.add(diffusersComponent(sub, c));
            }
            if (out.isEmpty()) {
                for (String f : wholeOrSharded("model.safetensors"))
                    if (Files.isRegularFile(p.resolve(f))) return detect(p.resolve(f));
                throw new UserError(p + ": not a diffusers folder (no unet/, vae/ or image_encoder/) and no model.safetensors (or its sharded index) in it");
            }
            descriptions.add(p + ": diffusers folder (" + String.join(", ", out.stream().map(c -> c.component() + " " + p.relativize(c.file())).toList()) + ")");
            return out;
        }
        return file(p);
    }

    private ComponentInput diffusersComponent(Path dir, String component) throws IOException {
        Path weights = null;
        for (String name : WEIGHTS.get(component)) {
            if (Files.isRegularFile(dir.resolve(name))) {
                weights = dir.resolve(name);
                break;
            }
        }
        if (weights == null) throw new UserError(dir + ": no weights file (looked for " + String.join(", ", WEIGHTS.get(component)) + ")");
        InputFile f = openFile(weights);
        Path cfgFile = dir.resolve("config.json");
        JsonNode cfg = null;
        if (Files.isRegularFile(cfgFile)) {
            try {
                cfg = Json.mapper().readTree(cfgFile.toFile());
            } catch (IOException e) {
                throw new UserError(cfgFile + ": not valid JSON: " + Json.oneLine(e));
            }
            if (cfg == null || !cfg.isObject()) throw new UserError(cfgFile + ": expected a JSON object");
        }
        return new ComponentInput(component, ComponentInput.Naming.DIFFUSERS, weights, "", f.tensors, cfg, cfgFile);
    }

    /** A single checkpoint file: sgm (all three components under their prefixes) or one component with diffusers names. */
    private List<ComponentInput> file(Path p) throws IOException {
        InputFile f = openFile(p);
        Map<String, String> prefixes = new LinkedHashMap<>();
        prefixes.put(ComponentInput.UNET, SgmNames.UNET_PREFIX);
        prefixes.put(ComponentInput.VAE, SgmNames.VAE_PREFIX);
        prefixes.put(ComponentInput.IMAGE_ENCODER, SgmNames.CLIP_PREFIX);
        Map<String, Map<String, SourceTensor>> sgm = new LinkedHashMap<>();
        Map<String, SourceTensor> condEncoder = new LinkedHashMap<>();
        TreeMap<String, Integer> ignored = new TreeMap<>();
        for (SourceTensor t : f.tensors.values()) {
            String comp = null;
            for (Map.Entry<String, String> e : prefixes.entrySet()) if (t.name().startsWith(e.getValue())) comp = e.getKey();
            String cond = t.name().startsWith(SgmNames.COND_ENCODER_PREFIX) ? t.name().substring(SgmNames.COND_ENCODER_PREFIX.length()) : "";
            if (comp != null) sgm.computeIfAbsent(comp, k -> new LinkedHashMap<>()).put(t.name().substring(prefixes.get(comp).length()), t);
            else if (cond.startsWith("encoder.") || cond.startsWith("quant_conv.")) condEncoder.put(cond, t);
            else ignored.merge(sgmGroup(t.name()), 1, Integer::sum);
        }
        // SVD encodes its conditioning frame with the copy under conditioner.embedders.3.encoder (encoder + quant_conv);
        // first_stage_model has no quant_conv. Diffusers' VAE, which Puppet-Master's latents come from, encodes as SVD's
        // conditioning does, so the VAE's encoder and quant_conv come from that copy when the file has it (spec 6.3).
        boolean fromCond = sgm.containsKey(ComponentInput.VAE) && condEncoder.containsKey("quant_conv.weight") && condEncoder.containsKey("encoder.conv_in.weight");
        if (fromCond) {
            sgm.get(ComponentInput.VAE).keySet().removeIf(k -> k.startsWith("encoder."));
            sgm.get(ComponentInput.VAE).putAll(condEncoder);
        } else {
            condEncoder.values().forEach(t -> ignored.merge(sgmGroup(t.name()), 1, Integer::sum));
        }
        if (!sgm.isEmpty()) {
            List<ComponentInput> out = new ArrayList<>();
            sgm.forEach((c, m) -> out.add(new ComponentInput(c, ComponentInput.Naming.SGM, p, prefixes.get(c), m, null, null)));
            StringBuilder d = new StringBuilder(p + ": Stability single-file (sgm) checkpoint, " + f.format + " (");
            out.forEach(c -> d.append(c.prefix()).append("* ").append(c.tensors().size()).append(" tensors -> ").append(c.component()).append("; "));
            if (fromCond) d.append("the vae's encoder and quant_conv from ").append(SgmNames.COND_ENCODER_PREFIX).append("* (SVD's conditioning-frame encoder); ");
            d.append(ignored.isEmpty() ? "nothing else)" : "ignored: " + ignored + ")");
            descriptions.add(d.toString());
            return out;
        }
        Map<String, Map<String, SourceTensor>> byComponent = new LinkedHashMap<>();
        List<SourceTensor> unknown = new ArrayList<>();
        for (SourceTensor t : f.tensors.values()) {
            String comp = startsWithAny(t.name(), UNET_ROOTS) ? ComponentInput.UNET : startsWithAny(t.name(), VAE_ROOTS) ? ComponentInput.VAE
                    : startsWithAny(t.name(), CLIP_ROOTS) ? ComponentInput.IMAGE_ENCODER : null;
            if (comp == null) unknown.add(t);
            else byComponent.computeIfAbsent(comp, k -> new LinkedHashMap<>()).put(t.name(), t);
        }
        if (byComponent.isEmpty())
            throw new UserError(p + " (" + f.format + "): cannot tell what this checkpoint holds: none of its " + f.tensors.size()
                    + " tensors has an sgm, UNet, VAE or CLIP name"
                    + " (first: " + ComponentFile.abbreviate(f.tensors.keySet().stream().limit(3).toList()) + ")");
        // Unknown names join the largest component, where they are reported as unexpected tensors.
        String main = byComponent.entrySet().stream().max(Map.Entry.comparingByValue((a, b) -> a.size() - b.size())).get().getKey();
        unknown.forEach(t -> byComponent.get(main).put(t.name(), t));
        List<ComponentInput> out = new ArrayList<>();
        byComponent.forEach((c, m) -> out.add(new ComponentInput(c, ComponentInput.Naming.DIFFUSERS, p, "", m, null, null)));
        List<String> what = out.stream().map(c -> c.component().equals(ComponentInput.UNET)
                ? (c.hasDragModules() ? "Puppet-Master UNet (diffusers names + drag modules)" : "SVD UNet (diffusers names)") : c.component()).toList();
        descriptions.add(p + ": " + String.join(" + ", what) + ", " + f.format + ", " + f.tensors.size() + " tensors");
        return out;
    }

    private InputFile openFile(Path p) throws IOException {
        InputFile f = InputFile.open(p);
        opened.add(f);
        if (ComponentFile.FORMAT.equals(f.metadata.get("format")))
            throw new UserError(p + " is a component of an engine model directory; give the directory (with --to diffusers to export it)");
        return f;
    }

    /** The first two name segments, which identify sgm's sub-models (conditioner.embedders.3, model_ema, ...). */
    private static String sgmGroup(String name) {
        String[] s = name.split("\\.");
        return s.length >= 3 && s[0].equals("conditioner") ? s[0] + "." + s[1] + "." + s[2] : s[0];
    }

    private static boolean startsWithAny(String s, String[] prefixes) {
        for (String p : prefixes) if (s.startsWith(p)) return true;
        return false;
    }

    @Override
    public void close() throws IOException {
        InputFile.closeAll(opened);
    }
}
