package dev.puppetengine.model.checkpoint;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.FileNames;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsException;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * An engine model directory: one {@link ComponentFile} per component (unet.safetensors, vae.safetensors,
 * image_encoder.safetensors) and manifest.json listing them with their tensor counts, sizes and sha256.
 * Written as a whole into a temporary sibling directory and renamed into place, so a crash never leaves a
 * half-written model under the final name.
 */
public final class ModelDirectory {
    private ModelDirectory() {}

    public static final String MANIFEST = "manifest.json", FORMAT = "puppet-engine-model";
    public static final int VERSION = 1;

    /** {@code unet_input}: what the UNet was trained to take, the noisy latent scaled by c_in (absent, the default) or {@link #UNSCALED}. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Manifest(@JsonProperty("format") String format, @JsonProperty("version") int version, @JsonProperty("kind") String kind,
                           @JsonProperty("dtype") String dtype, @JsonProperty("source") String source,
                           @JsonProperty("resolution") int resolution, @JsonProperty("components") Map<String, Entry> components,
                           @JsonProperty("unet_input") @JsonInclude(JsonInclude.Include.NON_NULL) String unetInput) {
        /** Whether sampling scales the UNet's input by c_in (SVD, Puppet-Master's inference), false for a UNet trained on it unscaled. */
        public boolean scalesUNetInput() { return !UNSCALED.equals(unetInput); }
    }

    /**
     * A UNet trained on the unscaled noisy latent, as the public train.py trains (spec 4.2): it must be sampled that way.
     * The manifest's field {@link #UNET_INPUT}; a diffusers export carries it in the UNet's config.json, where convert finds it.
     */
    public static final String UNSCALED = "unscaled", UNET_INPUT = "unet_input";

    /** The manifest's fields {@code kind} and {@code resolution}, which a diffusers export also carries in the UNet's config.json. */
    public static final String KIND = "kind", RESOLUTION = "resolution";

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Entry(@JsonProperty("file") String file, @JsonProperty("tensors") int tensors, @JsonProperty("parameters") long parameters,
                        @JsonProperty("bytes") long bytes, @JsonProperty("sha256") String sha256) {}

    /** What to write for one component: its config (Json.mapper()) and its tensors in engine layout. */
    public record Component(String configJson, Map<String, ComponentFile.Source> tensors) {
        /** A component whose tensors are materialised parameters. */
        public static Component of(String configJson, Map<String, Parameter> params) {
            Map<String, ComponentFile.Source> t = new LinkedHashMap<>();
            params.forEach((k, p) -> t.put(k, ComponentFile.Source.of(p)));
            return new Component(configJson, t);
        }

        /** A component of {@code root}'s parameters initialised from {@code seed}, each made only when written (one at a time in memory). */
        public static Component initialised(String configJson, Module root, long seed) {
            Map<String, ComponentFile.Source> t = new LinkedHashMap<>();
            root.namedParameters().forEach((k, p) -> t.put(k, ComponentFile.Source.initialised(k, p, seed)));
            return new Component(configJson, t);
        }
    }

    /**
     * Writes a model directory. {@code kind} says what the model is ("puppet-master", "svd-img2vid", or a
     * tiny preset); {@code source} where it came from; {@code resolution} the image side it generates (0:
     * unknown, the pipeline assumes 256); {@code scaledInput} false for a UNet trained on the unscaled noisy latent.
     * Refuses an existing target unless {@code force}, and then all but a model directory or an empty one ({@link #checkReplaceable}).
     */
    public static Manifest write(Path dir, String kind, String source, int resolution, boolean scaledInput, DType dtype, Map<String, Component> components,
                                 boolean force) throws IOException {
        checkReplaceable(dir, force);
        Manifest[] made = new Manifest[1];
        AtomicFile.replaceDirectory(dir, d -> {
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Map.Entry<String, Component> c : components.entrySet()) {
                String file = c.getKey() + ".safetensors";
                Path p = d.resolve(file);
                ComponentFile.writeSources(p, dir.resolve(file), c.getKey(), c.getValue().configJson(), c.getValue().tensors(), dtype, Map.of("kind", kind));
                long n = c.getValue().tensors().values().stream().mapToLong(t -> Shape.numel(t.shape())).sum();
                entries.put(c.getKey(), new Entry(file, c.getValue().tensors().size(), n, Files.size(p), sha256(p)));
            }
            made[0] = new Manifest(FORMAT, VERSION, kind, dtype.name(), source, resolution, entries, scaledInput ? null : UNSCALED);
            AtomicFile.writeString(d.resolve(MANIFEST), Json.mapper().writeValueAsString(made[0]));
        });
        return made[0];
    }

    /**
     * Whether {@code dir} holds this engine's manifest (its format field ours), however damaged the rest: the model
     * directory --force may replace. A manifest.json of any other program does not count.
     */
    public static boolean isModelDirectory(Path dir) {
        try {
            return FORMAT.equals(Json.mapper().readTree(dir.resolve(MANIFEST).toFile()).path("format").asText());
        } catch (IOException e) {
            return false;
        }
    }

    /** Refuses, before any work, a {@code dir} that {@link #write} would not replace (an existing one without {@code force}, any other directory with it). */
    public static void checkReplaceable(Path dir, boolean force) throws IOException {
        AtomicFile.checkReplaceable(dir, force, "an engine model directory (no " + MANIFEST + " of format " + FORMAT + ")", ModelDirectory::isModelDirectory);
    }

    /** Reads and checks the manifest (format, version, every listed file present with the listed size). */
    public static Manifest read(Path dir) throws IOException {
        return read(dir, true);
    }

    private static Manifest read(Path dir, boolean checkFiles) throws IOException {
        Path m = dir.resolve(MANIFEST);
        if (!Files.isDirectory(dir)) {
            Path cut = AtomicFile.cutShortReplacement(dir);
            throw new CheckpointException(dir, cut == null ? (Files.exists(dir) ? "is not a model directory (a file, not a directory)" : "no such model directory")
                    : "is missing: replacing it was cut short (killed between two renames); the complete new model is " + cut + ": rename it to "
                    + dir.getFileName());
        }
        // another user's private folder: its manifest is there but cannot be seen, which is no "not a model directory"
        if (!Files.isReadable(dir) || !Files.isExecutable(dir)) throw new AccessDeniedException(dir.toString());
        if (!Files.isRegularFile(m)) {
            String hint = Files.isRegularFile(dir.resolve("model").resolve(MANIFEST)) ? "the model a training run exported is " + dir.resolve("model")
                    : Files.isRegularFile(dir.resolve("state.json")) ? "it is a training checkpoint: its run exports the model to RUN/model when it ends"
                    + " (run the same train command again to finish it)"
                    : "convert a checkpoint with ./puppet-engine convert";
            throw new CheckpointException(dir, "is not a model directory (no " + MANIFEST + "); " + hint);
        }
        Manifest man;
        try {
            man = Json.mapper().readValue(m.toFile(), Manifest.class);
        } catch (IOException e) {
            throw new CheckpointException(m, "is not a valid manifest: " + Json.oneLine(e));
        }
        if (man == null) throw new CheckpointException(m, "is not a valid manifest: it holds null, expected a JSON object");
        if (man.format() == null) throw new CheckpointException(m, "field 'format' is missing, expected '" + FORMAT + "'");
        if (!FORMAT.equals(man.format())) throw new CheckpointException(m, "format is '" + man.format() + "', expected '" + FORMAT + "'");
        if (man.version() != VERSION) throw new CheckpointException(m, "version " + man.version() + " is not supported (this engine reads " + VERSION + ")");
        if (man.components() == null || man.components().isEmpty()) throw new CheckpointException(m, "lists no components");
        if (man.resolution() < 0 || man.resolution() % 64 != 0)
            throw new CheckpointException(m, "field 'resolution' is " + man.resolution() + ", expected 0 (the default, 256) or a positive multiple of 64");
        if (man.unetInput() != null && !UNSCALED.equals(man.unetInput()))
            throw new CheckpointException(m, "field 'unet_input' is '" + man.unetInput() + "', expected '" + UNSCALED + "' or no such field (input scaled by c_in)");
        for (Map.Entry<String, Entry> e : man.components().entrySet()) {
            if (e.getValue() == null || e.getValue().file() == null || e.getValue().file().isBlank())
                throw new CheckpointException(m, "component '" + e.getKey() + "' has no \"file\"");
            // a NUL (Path's own message names neither file nor component), or a path out of the directory ("../x", "/x"): a downloaded
            // model's manifest would have its loads and verify read whatever file of that size it named
            if (!FileNames.isPlain(e.getValue().file()))
                throw new CheckpointException(m, "component '" + e.getKey() + "' has \"file\" " + Json.mapper().writeValueAsString(e.getValue().file())
                        + ", not a valid file name: expected the name of a file in the model directory");
            Path f = dir.resolve(e.getValue().file());
            if (!checkFiles) continue;
            String problem = fileProblem(f, e.getValue());
            if (problem != null) throw new CheckpointException(f, problem + " (component '" + e.getKey() + "')");
        }
        return man;
    }

    /** What keeps {@code f} from being the manifest's file for {@code e} as far as loading checks (kind, presence, size), or null. */
    private static String fileProblem(Path f, Entry e) throws IOException {
        if (Files.isDirectory(f)) return "a directory, expected its .safetensors file";
        if (!Files.isRegularFile(f)) return "missing";
        long size = Files.size(f);
        return size == e.bytes() ? null : size + " bytes, the manifest says " + e.bytes() + " (truncated or replaced?)";
    }

    /**
     * Checks every component file against the manifest: one that loading would refuse ({@link #fileProblem}: missing, a
     * directory, another size) is named without being read; every other is read once, whole, its SHA-256 compared with the
     * manifest's (loading checks sizes only: hashing gigabytes on every load would cost more than the load) while its
     * weights are scanned for NaN or infinite values, as loading does, a finding told only of a file whose hash matches.
     * Returns one line per file that differs or holds such a weight, empty when all are sound.
     */
    public static List<String> verify(Path dir) throws IOException {
        return verify(dir, n -> {});
    }

    /** The bytes {@link #verify} reads: each sound-sized component file once. */
    public static long verifyBytes(Path dir) throws IOException {
        long n = 0;
        for (Entry e : read(dir, false).components().values())
            if (fileProblem(dir.resolve(e.file()), e) == null) n += e.bytes();
        return n;
    }

    /** As {@link #verify(Path)}, telling {@code read} each run of bytes read ({@link #verifyBytes} in all). */
    public static List<String> verify(Path dir, LongConsumer read) throws IOException {
        Manifest man = read(dir, false);   // a file missing or of another size is named below with every other that differs, not alone
        List<String> bad = new ArrayList<>();
        for (Map.Entry<String, Entry> e : man.components().entrySet()) {
            Path f = dir.resolve(e.getValue().file());
            String problem = fileProblem(f, e.getValue());
            if (problem != null) {
                bad.add(f + ": " + problem + " (component '" + e.getKey() + "')");
                continue;
            }
            Reading got = readOnce(f, read);
            String want = e.getValue().sha256();
            if (want == null || !want.equalsIgnoreCase(got.sha256())) {   // the scan of bytes other than the manifest's says nothing more
                bad.add(f + ": sha256 " + got.sha256() + ", the manifest says " + (want == null ? "nothing" : want) + " (component '" + e.getKey() + "' was modified or damaged)");
            } else {
                String weight = got.nonFinite();   // written so: converted or trained from weights that were not finite
                if (weight != null) bad.add(f + ": " + weight + " (component '" + e.getKey() + "'): loading refuses it");
            }
        }
        return bad;
    }

    /** A component file read once: its SHA-256, and the scan's finding or what stopped the scan. */
    private record Reading(String sha256, String firstNonFinite, SafetensorsException unscanned) {
        /** The first tensor holding a NaN or an infinity, in words, or null; a file whose scan stopped short of one is refused, as loading refuses it. */
        String nonFinite() throws SafetensorsException {
            if (firstNonFinite == null && unscanned != null) throw unscanned;
            return firstNonFinite;
        }
    }

    /**
     * Reads {@code file} once, one tensor at a time, hashing its bytes in file order (the header, then the tensors in data
     * order, which the reader checked cover the rest) and scanning each floating tensor; {@code read} hears each run hashed.
     * Where the file does not parse as safetensors, the rest is hashed plainly: a damaged file is named by its hash.
     */
    private static Reading readOnce(Path file, LongConsumer read) throws IOException {
        MessageDigest md = newSha256();
        long[] hashed = {0};
        Consumer<ByteBuffer> hash = b -> {
            hashed[0] += b.remaining();
            read.accept(b.remaining());
            md.update(b);
        };
        String weight = null;
        SafetensorsException unscanned = null;
        try (SafetensorsReader r = SafetensorsReader.open(file, hash)) {
            for (SafetensorsEntry t : r.entries()) {
                ByteBuffer b = r.read(t.name());
                String bad = weight == null && t.dtype().isFloating() ? TensorBytes.nonFinite(b, t.dtype()) : null;
                if (bad != null) weight = "tensor " + t.name() + " is not finite (" + bad + ")";
                hash.accept(b);   // on past a non-finite tensor too: the finding counts only if the whole file's hash matches
            }
        } catch (SafetensorsException e) {   // a header that does not parse, or a tensor too large to read whole
            unscanned = e;
            hashFrom(file, hashed[0], hash);
        }
        return new Reading(HexFormat.of().formatHex(md.digest()), weight, unscanned);
    }

    public static String sha256(Path file) throws IOException {
        MessageDigest md = newSha256();
        hashFrom(file, 0, md::update);
        return HexFormat.of().formatHex(md.digest());
    }

    /** Hands {@code hash} the bytes of {@code file} from {@code pos} to its end, a megabyte at a time. */
    private static void hashFrom(Path file, long pos, Consumer<ByteBuffer> hash) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (int n; (n = ch.read(buf.clear(), pos)) > 0; pos += n) hash.accept(buf.flip());
        }
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
