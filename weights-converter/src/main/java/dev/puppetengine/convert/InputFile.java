package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.FileNames;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.pickle.TorchFile;
import dev.puppetengine.io.pickle.TorchTensor;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The tensors of one checkpoint file, by stored name: a safetensors file (each tensor read when converted), a
 * torch.save file read through the allow-listed pickle reader (storages read lazily), or the index of a checkpoint
 * sharded into several such files. A torch file may wrap its
 * state dict in a dict under one of {@link #WRAPPERS} (training checkpoints, EMA files).
 */
final class InputFile implements AutoCloseable {
    static final List<String> WRAPPERS = List.of("state_dict", "model", "module", "ema", "model_ema", "ema_model");

    /** "safetensors" or "torch" (plus the wrapper key it was found under). */
    final String format;
    final Map<String, SourceTensor> tensors;
    final Map<String, String> metadata;
    private final AutoCloseable resource;

    private InputFile(String format, Map<String, SourceTensor> tensors, Map<String, String> metadata, AutoCloseable resource) {
        this.format = format;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = metadata;
        this.resource = resource;
    }

    static InputFile open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new UserError(file + ": no such file");
        if (isIndex(file.getFileName().toString())) return sharded(file);
        long size = Files.size(file);
        if (size < 9) throw new UserError(file + ": " + size + " bytes, too short to be a safetensors file or a torch checkpoint (truncated?)");
        return isSafetensors(file) ? safetensors(file) : torch(file);
    }

    /**
     * A sharded checkpoint's index as save_pretrained names it: weights name + ".index.json", or with a variant
     * ".index.fp16.json" (e.g. diffusion_pytorch_model.safetensors.index.fp16.json).
     */
    static boolean isIndex(String name) {
        return name.matches(".+\\.index(\\.[^.]+)?\\.json");
    }

    /** The index names of a weights file name, plain and as the fp16 variant: X.safetensors -> X.safetensors.index[.fp16].json. */
    static List<String> indexNames(String weights) {
        return List.of(weights + ".index.json", weights + ".index.fp16.json");
    }

    /**
     * A checkpoint split into shards (save_pretrained with max_shard_size): the index's weight_map names, for every
     * tensor, the file beside it that holds it. All the shards' tensors, each checked to be in the shard the map says.
     */
    private static InputFile sharded(Path index) throws IOException {
        JsonNode map = Json.field(Json.read(index), "weight_map", index);
        if (!map.isObject() || map.isEmpty()) throw new InputFileException(index + ": field 'weight_map' must be a non-empty object of tensor -> shard file");
        Map<String, String> where = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) map::fields) {
            String shard = e.getValue().asText();
            if (!e.getValue().isTextual() || !FileNames.isPlain(shard) || isIndex(shard))
                throw new InputFileException(index + ": weight_map['" + e.getKey() + "'] must name a shard file beside the index, found " + e.getValue());
            where.put(e.getKey(), shard);
        }
        Map<String, InputFile> shards = new LinkedHashMap<>();
        try {
            Map<String, SourceTensor> out = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (String shard : new TreeSet<>(where.values())) {
                Path p = index.resolveSibling(shard);
                if (!Files.isRegularFile(p)) throw new InputFileException(index + ": shard " + shard + " (of " + tensorsIn(where, shard) + ") is missing");
                InputFile f = open(p);
                shards.put(shard, f);
                metadata.putAll(f.metadata);
                for (SourceTensor t : f.tensors.values()) {
                    SourceTensor before = out.put(t.name(), t);
                    if (before != null) throw new InputFileException(index + ": tensor " + t.name() + " is in two shards, " + before.file().getFileName() + " and " + shard);
                }
            }
            for (Map.Entry<String, String> e : where.entrySet()) {
                SourceTensor t = out.get(e.getKey());
                if (t == null || !t.file().getFileName().toString().equals(e.getValue()))
                    throw new InputFileException(index + ": weight_map puts tensor " + e.getKey() + " in " + e.getValue() + ", which does not hold it"
                            + (t == null ? "" : " (" + t.file().getFileName() + " does)"));
            }
            String formats = String.join("/", new TreeSet<>(shards.values().stream().map(f -> f.format).toList()));
            List<InputFile> all = List.copyOf(shards.values());
            return new InputFile(formats + ", " + shards.size() + " shards", out, metadata, () -> closeAll(all));
        } catch (IOException | RuntimeException e) {
            closeAll(List.copyOf(shards.values()));
            throw e;
        }
    }

    /** What an index puts in one shard, for messages: the first name and how many more. */
    private static String tensorsIn(Map<String, String> where, String shard) {
        List<String> names = where.entrySet().stream().filter(e -> e.getValue().equals(shard)).map(Map.Entry::getKey).toList();
        return names.size() == 1 ? names.get(0) : names.get(0) + " and " + (names.size() - 1) + " more tensors";
    }

    /** Closes every file, even after one fails; throws the first failure. */
    static void closeAll(List<InputFile> files) throws IOException {
        IOException first = null;
        for (InputFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }

    /** safetensors starts with an 8-byte header length and then the header's '{'. */
    private static boolean isSafetensors(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(9);
            return head.length == 9 && head[8] == '{';
        }
    }

    private static InputFile safetensors(Path file) throws IOException {
        SafetensorsReader r = SafetensorsReader.open(file);
        Map<String, SourceTensor> out = new LinkedHashMap<>();
        for (SafetensorsEntry e : r.entries())
            out.put(e.name(), new SourceTensor(file, e.name(), e.dtype(), e.shape(), () -> r.read(e.name())));
        return new InputFile("safetensors", out, r.metadata(), r);
    }

    private static InputFile torch(Path file) throws IOException {
        TorchFile f = TorchFile.open(file);
        try {
            Object root = f.root();
            String format = "torch";
            for (int depth = 0; root instanceof Map<?, ?> m && !hasTensors(m) && depth < 2; depth++) {
                Object inner = null;
                for (String w : WRAPPERS) {
                    if (m.get(w) instanceof Map<?, ?> sub) {
                        inner = sub;
                        format = "torch, state dict under '" + w + "'";
                        break;
                    }
                }
                if (inner == null) break;
                root = inner;
            }
            if (!(root instanceof Map<?, ?> m) || !hasTensors(m))
                throw new UserError(file + ": a torch file without a state dict (expected a dict of tensors, possibly under one of "
                        + WRAPPERS + "); found " + describe(f.root()));
            Map<String, SourceTensor> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (e.getKey() instanceof String name && e.getValue() instanceof TorchTensor t)
                    out.put(name, new SourceTensor(file, name, t.dtype(), t.shape(), t::toBytes));
            }
            return new InputFile(format, out, Map.of(), f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static boolean hasTensors(Map<?, ?> m) {
        return m.values().stream().anyMatch(v -> v instanceof TorchTensor);
    }

    private static String describe(Object o) {
        if (o instanceof Map<?, ?> m) return "a dict with keys " + m.keySet().stream().limit(8).map(String::valueOf).toList();
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    @Override
    public void close() throws IOException {
        try {
            resource.close();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }
}
