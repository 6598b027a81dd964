package dev.puppetengine.convert;

import dev.puppetengine.cli.UserError;
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

/**
 * The tensors of one checkpoint file, by stored name: a safetensors file (memory-mapped per tensor) or a
 * torch.save file read through the allow-listed pickle reader (storages read lazily). A torch file may wrap its
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
        return isSafetensors(file) ? safetensors(file) : torch(file);
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
            out.put(e.name(), new SourceTensor(file, e.name(), e.dtype(), e.shape(), () -> r.map(e.name())));
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
