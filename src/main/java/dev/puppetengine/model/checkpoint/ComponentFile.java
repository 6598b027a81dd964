package dev.puppetengine.model.checkpoint;

import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One model component (unet, vae, image_encoder) as a safetensors file in the engine's layout
 * (channels-last conv weights), its config JSON and identity in {@code __metadata__}. Written tensor by tensor
 * (never the whole model on the heap), atomically; loading checks every key and shape against the module.
 */
public final class ComponentFile {
    private ComponentFile() {}

    public static final String FORMAT = "puppet-engine", LAYOUT = "engine-channels-last";

    /**
     * One tensor to write: its engine-layout shape and a producer of its engine-layout value, called when the
     * writer reaches it inside a scope that is closed right after (so only one tensor is materialised at a time).
     */
    public record Source(int[] shape, Value value) {
        public Source {
            shape = shape.clone();
        }

        @Override
        public int[] shape() { return shape.clone(); }

        public static Source of(Parameter p) {
            return new Source(p.shape(), p::value);
        }

        /** Parameter {@code name}'s initial value from {@code seed} ({@link ParameterStore#initialize}'s), made when written. */
        public static Source initialised(String name, Parameter p, long seed) {
            return new Source(p.shape(), () -> ParameterStore.initialValue(CpuBackend.get(), DType.F32, name, p, seed));
        }
    }

    @FunctionalInterface
    public interface Value {
        Tensor get() throws IOException;
    }

    /**
     * Writes tensors produced one at a time (engine layout) converted to {@code dtype}; errors name {@code named}, where
     * {@code file} (in a temporary directory that a failure deletes) is published.
     */
    public static void writeSources(Path file, Path named, String component, String configJson, Map<String, Source> tensors, DType dtype,
                                    Map<String, String> extraMetadata) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("layout", LAYOUT);
        meta.put("component", component);
        meta.put("config", configJson);
        if (extraMetadata != null) meta.putAll(extraMetadata);
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        for (Map.Entry<String, Source> e : tensors.entrySet()) {
            Source src = e.getValue();
            items.add(new SafetensorsWriter.Item(e.getKey(), dtype, src.shape(), out -> {
                try (Scope s = Scope.open()) {
                    Tensor v = src.value().get();
                    if (!Arrays.equals(v.shape(), src.shape))
                        throw new CheckpointException(named, "tensor '" + e.getKey() + "': produced shape " + Arrays.toString(v.shape())
                                + ", expected " + Arrays.toString(src.shape));
                    ByteBuffer bytes = v.to(dtype).toBytes();
                    String bad = TensorBytes.nonFinite(bytes, dtype);   // loading would refuse the file: said now, naming the tensor
                    if (bad != null)
                        throw new CheckpointException(named, "tensor '" + e.getKey() + "' is not finite in " + dtype + " (" + bad + "): its values are past "
                                + dtype + "'s range (write it in bf16 or fp32), or were not finite already");
                    out.put(bytes);
                }
            }));
        }
        SafetensorsWriter.write(file, meta, items);
    }

    /** The component's metadata (format checked). */
    public static Map<String, String> metadata(SafetensorsReader r, String component) {
        Map<String, String> m = r.metadata();
        if (!FORMAT.equals(m.get("format")) || !LAYOUT.equals(m.get("layout")))
            throw new CheckpointException(r.file(), "not an engine checkpoint (metadata format=" + m.get("format") + ", layout=" + m.get("layout")
                    + "); convert it first with ./puppet-engine convert");
        if (!component.equals(m.get("component")))
            throw new CheckpointException(r.file(), "holds component '" + m.get("component") + "', expected '" + component + "'");
        if (m.get("config") == null) throw new CheckpointException(r.file(), "has no config in its metadata");
        return m;
    }

    /**
     * Loads every parameter of {@code store} from {@code r}, converting dtype. Missing, unexpected and
     * mis-shaped tensors are all reported in one error naming the file. A weight holding a NaN or an infinity is refused
     * naming the tensor: it samples NaN frames and trains NaN losses, said only after minutes of work and naming neither.
     * The check tests the stored bits, a fraction of a second for a 3 GB model (verify's hash costs several times more).
     * Loaded in a narrower dtype, a weight that would round past that type's largest to an infinity is refused too (F16 from
     * 65520 on; BF16 from 3.3961e38, which an F32 file can hold; F32 from 3.4028e38, which an F64 file can).
     */
    public static void load(SafetensorsReader r, ParameterStore store) throws IOException {
        Map<String, Parameter> params = store.parameters();
        check(r, params);
        for (String name : params.keySet()) {
            try (Scope s = Scope.open()) {
                DType stored = r.entry(name).dtype();
                ByteBuffer bytes = r.read(name);   // one read for the checks and the load
                String bad = TensorBytes.nonFinite(bytes, stored);
                if (bad != null)
                    throw new CheckpointException(r.file(), "tensor " + name + " is not finite (" + bad + "): the file is damaged, or was written"
                            + " from weights that were not finite");
                if ((bad = TensorBytes.overflows(bytes, stored, store.dtype())) != null) {
                    // a type that holds it: past F32's range (an F64 file) only fp64, also when fp32 was asked for
                    String holds = TensorBytes.overflows(bytes, stored, DType.F32) != null ? "fp64"
                            : store.dtype() == DType.F16 && TensorBytes.overflows(bytes, stored, DType.BF16) == null ? "bf16 or fp32" : "fp32";
                    throw new CheckpointException(r.file(), "tensor " + name + " overflows " + store.dtype() + " (" + bad + " once converted): load"
                            + " the model in " + holds + " (--dtype)");
                }
                store.load(name, r.load(name, bytes, store.backend(), store.dtype()));
            }
        }
    }

    /** Checks that {@code r} holds exactly {@code params} with their engine shapes; one error lists every difference. */
    public static void check(SafetensorsReader r, Map<String, Parameter> params) {
        List<String> problems = new ArrayList<>(), misShaped = new ArrayList<>();
        TreeSet<String> unexpected = new TreeSet<>();
        for (SafetensorsEntry e : r.entries()) {
            Parameter p = params.get(e.name());
            if (p == null) unexpected.add(e.name());
            else if (!Arrays.equals(p.shape(), e.shape()))
                misShaped.add(e.name() + ": shape " + Arrays.toString(e.shape()) + ", expected " + Arrays.toString(p.shape()));
        }
        // a config that does not fit its weights mis-shapes hundreds of tensors: the first few say enough
        if (!misShaped.isEmpty())
            problems.add(misShaped.size() <= 4 ? String.join("; ", misShaped)
                    : String.join("; ", misShaped.subList(0, 4)) + "; and " + (misShaped.size() - 4) + " more mis-shaped tensor(s) (does the config fit these weights?)");
        TreeSet<String> missing = new TreeSet<>(params.keySet());
        for (SafetensorsEntry e : r.entries()) missing.remove(e.name());
        if (!missing.isEmpty()) problems.add(missing.size() + " missing tensor(s): " + abbreviate(missing));
        if (!unexpected.isEmpty()) problems.add(unexpected.size() + " unexpected tensor(s): " + abbreviate(unexpected));
        if (!problems.isEmpty()) throw new CheckpointException(r.file(), "does not match the model: " + String.join("; ", problems));
    }

    /** The first eight names, then "..." (error messages stay one readable line). */
    public static String abbreviate(Collection<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 8 ? String.join(", ", l) : String.join(", ", l.subList(0, 8)) + ", ...";
    }
}
