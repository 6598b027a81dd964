package dev.puppetengine.model.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsException;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelDirectoryTest {
    /** Found by fuzzing: a manifest.json holding just null was a NullPointerException, not a bad-manifest error. */
    @Test
    void aNullManifestIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        Path manifest = Files.writeString(dir.resolve("manifest.json"), "null");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage();
        assertTrue(msg.contains(manifest.toString()) && msg.contains("expected a JSON object"), msg);
    }

    /** A component file name that is no path (a NUL in it) is refused naming the manifest and component, not Path's bare InvalidPathException. */
    @Test
    void aComponentFileThatIsNoPathIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        Path manifest = Files.writeString(dir.resolve("manifest.json"), "{\"format\": \"" + ModelDirectory.FORMAT + "\", \"version\": " + ModelDirectory.VERSION
                + ", \"components\": {\"vae\": {\"file\": \"vae\\u0000.safetensors\"}}}");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage();
        assertTrue(msg.contains(manifest + ": component 'vae' has \"file\" \"vae\\u0000.safetensors\", not a valid file name"), msg);
    }

    /** A component file outside the model directory was read as the component when it was there at the manifest's size. */
    @Test
    void aComponentFileOutsideTheDirectoryIsRefused(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("model")), outside = Files.writeString(tmp.resolve("vae.safetensors"), "abc");
        for (String file : new String[]{"../vae.safetensors", outside.toString()}) {
            String quoted = Json.mapper().writeValueAsString(file);
            Path manifest = Files.writeString(dir.resolve("manifest.json"), "{\"format\": \"" + ModelDirectory.FORMAT + "\", \"version\": " + ModelDirectory.VERSION
                    + ", \"components\": {\"vae\": {\"file\": " + quoted + ", \"bytes\": 3}}}");
            String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage();
            assertEquals(manifest + ": component 'vae' has \"file\" " + quoted + ", not a valid file name: expected the name of a file in the model directory", msg);
        }
    }

    /**
     * A weight past the written dtype's range (1e5 in fp16, as a trained model exported with --export-dtype fp16 could
     * hold) is refused when written, naming the tensor, not written as infinity for loading to refuse later.
     */
    @Test
    void aWeightPastTheDtypesRangeIsRefusedWhenWritten(@TempDir Path dir) throws Exception {
        ComponentFile.Source w = new ComponentFile.Source(new int[]{3}, () -> Tensor.of(CpuBackend.get(), DType.F32, new int[]{3}, new float[]{1, 1e5f, 2}));
        Map<String, ModelDirectory.Component> components = Map.of("vae", new ModelDirectory.Component("{}", Map.of("w", w)));
        Path out = dir.resolve("m");
        String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F16, components, false)).getMessage();
        // named where it would have been published, not in the temporary directory that the failure deletes
        assertEquals(out.resolve("vae.safetensors") + ": tensor 'w' is not finite in F16 (element 1 of 3 is Infinity): its values are past F16's range "
                + "(write it in bf16 or fp32), or were not finite already", msg);
        assertFalse(Files.exists(out));
        assertEquals("tiny", ModelDirectory.write(out, "tiny", "test", 0, true, DType.BF16, components, false).kind());
        msg = assertThrows(CheckpointException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F16, components, true)).getMessage();
        assertTrue(msg.startsWith(out.resolve("vae.safetensors") + ": tensor 'w' is not finite in F16"), "replacing it, too: " + msg);
    }

    /** Loaded as F16, a weight past 65504 would become infinite: refused naming the file and tensor; bf16 keeps it. */
    @Test
    void aWeightThatOverflowsF16IsRefusedWhenLoadedAsF16(@TempDir Path dir) throws Exception {
        Path file = writeWeight(dir, 1, 7e4f);
        assertEquals(file + ": tensor weight overflows F16 (element 1 of 2 is Infinity once converted): load the model in bf16 or fp32 (--dtype)",
                loadAs(file, DType.F16, 0));
        assertEquals("70144.0", loadAs(file, DType.BF16, 1));   // 7e4 to bf16's nearest (a step of 512 there)
    }

    /** Loaded as BF16, an F32 weight in the top sliver of F32's range would become infinite: refused; fp32 keeps it. */
    @Test
    void aWeightThatOverflowsBf16IsRefusedWhenLoadedAsBf16(@TempDir Path dir) throws Exception {
        Path file = writeWeight(dir, -3.4e38f, 1);
        assertEquals(file + ": tensor weight overflows BF16 (element 0 of 2 is -Infinity once converted): load the model in fp32 (--dtype)",
                loadAs(file, DType.BF16, 0));
        assertEquals(String.valueOf((double) -3.4e38f), loadAs(file, DType.F32, 0));
    }

    /** An F64 weight past F32's range (an fp64 export) is refused in fp32 and bf16 alike: only fp64 holds it, which the advice names. */
    @Test
    void aWeightThatOnlyFp64HoldsIsRefusedSayingFp64(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("w.safetensors");
        int[] shape = {2, 1};
        ComponentFile.Source w = new ComponentFile.Source(shape, () -> Tensor.of(CpuBackend.get(), DType.F64, shape, new double[]{1, 1e300}));
        ComponentFile.writeSources(file, file, "vae", "{}", Map.of("weight", w), DType.F64, Map.of());
        assertEquals(file + ": tensor weight overflows F32 (element 1 of 2 is Infinity once converted): load the model in fp64 (--dtype)",
                loadAs(file, DType.F32, 0));
        assertEquals(file + ": tensor weight overflows BF16 (element 1 of 2 is Infinity once converted): load the model in fp64 (--dtype)",
                loadAs(file, DType.BF16, 0));
        assertEquals(file + ": tensor weight overflows F16 (element 1 of 2 is Infinity once converted): load the model in fp64 (--dtype)",
                loadAs(file, DType.F16, 0));
        assertEquals("1.0E300", loadAs(file, DType.F64, 1));
    }

    /**
     * describe --verify reads each component file once, hashing the bytes it scans: it read a file whole to hash it, then
     * again tensor by tensor to scan it, twice the time for a model of several GB.
     */
    @Test
    void verifyReadsEachComponentFileOnce(@TempDir Path dir) throws Exception {
        int[] shape = {1 << 20};
        Map<String, ComponentFile.Source> tensors = new LinkedHashMap<>();
        for (String name : new String[]{"a", "b", "c", "d"})
            tensors.put(name, new ComponentFile.Source(shape, () -> Tensor.of(CpuBackend.get(), DType.F32, shape, new float[shape[0]])));
        Path model = dir.resolve("m");
        ModelDirectory.write(model, "tiny", "test", 0, true, DType.F32, Map.of("unet", new ModelDirectory.Component("{}", tensors)), false);
        long size = Files.size(model.resolve("unet.safetensors"));
        assertEquals(List.of(), ModelDirectory.verify(model));   // and the classes it needs loaded, before counting
        Path io = Path.of("/proc/self/io");
        long before = Files.isReadable(io) ? readChars(io) : 0;
        long[] said = {0};
        assertEquals(List.of(), ModelDirectory.verify(model, n -> said[0] += n));
        if (Files.isReadable(io)) {   // what this process read from any file: the 16 MB file once, not twice
            long read = readChars(io) - before;
            assertTrue(read >= size && read < size + size / 2, read + " bytes read for a file of " + size);
        }
        assertEquals(size, said[0], "the bytes told, for describe's bar");
        assertEquals(size, ModelDirectory.verifyBytes(model));
    }

    /**
     * Hashed as it is scanned, the file's every byte counts in file order: the header with its padding, then the tensors in
     * data order, here not the header's. A NaN is told of a file whose hash matches, not of one that differs.
     */
    @Test
    void verifyHashesTensorsStoredOutOfHeaderOrder(@TempDir Path dir) throws Exception {
        byte[] sound = outOfHeaderOrder(1), nan = outOfHeaderOrder(Float.NaN);
        Path file = modelOf(dir, sound, sound);
        long[] said = {0};
        assertEquals(List.of(), ModelDirectory.verify(dir, n -> said[0] += n));
        assertEquals(sound.length, said[0]);
        modelOf(dir, nan, nan);
        assertEquals(List.of(file + ": tensor a is not finite (element 0 of 2 is NaN) (component 'vae'): loading refuses it"), ModelDirectory.verify(dir));
        modelOf(dir, nan, sound);
        assertEquals(List.of(file + ": sha256 " + sha256(nan) + ", the manifest says " + sha256(sound) + " (component 'vae' was modified or damaged)"),
                ModelDirectory.verify(dir));
    }

    /**
     * A file whose header no longer parses, listed with another hash, is a hash mismatch like any damaged file, not the
     * parse error: verify hashes on past the header plainly. One whose hash matches is refused as loading refuses it.
     */
    @Test
    void aDamagedHeaderWithAnotherHashIsAHashMismatch(@TempDir Path dir) throws Exception {
        byte[] sound = outOfHeaderOrder(1);
        byte[] json = sound.clone(), length = sound.clone();
        json[8] = 'x';           // the header's opening brace
        length[7] = (byte) 0x80;   // a negative header length
        for (byte[] damaged : new byte[][]{json, length, "short".getBytes(StandardCharsets.US_ASCII)}) {
            Path file = modelOf(dir, damaged, sound);
            long[] said = {0};
            assertEquals(List.of(file + ": sha256 " + sha256(damaged) + ", the manifest says " + sha256(sound) + " (component 'vae' was modified or damaged)"),
                    ModelDirectory.verify(dir, n -> said[0] += n));
            assertEquals(damaged.length, said[0]);
        }
        modelOf(dir, json, json);
        assertTrue(assertThrows(SafetensorsException.class, () -> ModelDirectory.verify(dir)).getMessage().contains("header is not valid JSON"));
    }

    /** Each manifest check names the manifest and what is wrong: a model of another format or version is not read as this one. */
    @Test
    void manifestFieldsAreCheckedNamingTheField(@TempDir Path dir) throws Exception {
        modelOf(dir, outOfHeaderOrder(1), outOfHeaderOrder(1));
        Path manifest = dir.resolve(ModelDirectory.MANIFEST);
        ObjectNode good = (ObjectNode) Json.read(manifest);
        String[][] cases = {{"format", "\"other\"", "format is 'other', expected 'puppet-engine-model'"},
                {"format", "null", "field 'format' is missing, expected 'puppet-engine-model'"},
                {"version", "2", "version 2 is not supported (this engine reads 1)"},
                {"components", "{}", "lists no components"}, {"components", "null", "lists no components"},
                {"resolution", "-64", "field 'resolution' is -64, expected 0"}, {"resolution", "96", "field 'resolution' is 96, expected 0"},
                {"unet_input", "\"scaled\"", "field 'unet_input' is 'scaled', expected 'unscaled'"},
                {"components", "{\"vae\": null}", "component 'vae' has no \"file\""},
                {"components", "{\"vae\": {\"bytes\": 48}}", "component 'vae' has no \"file\""},
                {"components", "{\"vae\": {\"file\": \" \"}}", "component 'vae' has no \"file\""}};
        for (String[] c : cases) {
            Files.writeString(manifest, good.deepCopy().set(c[0], Json.mapper().readTree(c[1])).toString());
            String msg = assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir), c[1]).getMessage();
            assertTrue(msg.startsWith(manifest + ": " + c[2]), msg);
        }
        Files.writeString(manifest, good.deepCopy().put("unet_input", "unscaled").toString());
        assertFalse(ModelDirectory.read(dir).scalesUNetInput());
        Files.writeString(manifest, good.toString());
        assertTrue(ModelDirectory.read(dir).scalesUNetInput());
    }

    /** A component file missing or a directory: read refuses the model naming it; verify lists it with the others rather than stopping. */
    @Test
    void aMissingComponentFileIsRefusedByReadAndListedByVerify(@TempDir Path dir) throws Exception {
        Path file = modelOf(dir, outOfHeaderOrder(1), outOfHeaderOrder(1));
        Files.delete(file);
        assertEquals(file + ": missing (component 'vae')", assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage());
        assertEquals(List.of(file + ": missing (component 'vae')"), ModelDirectory.verify(dir));
        assertEquals(0, ModelDirectory.verifyBytes(dir));
        Files.createDirectory(file);
        assertEquals(file + ": a directory, expected its .safetensors file (component 'vae')",
                assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir)).getMessage());
        assertEquals(List.of(file + ": a directory, expected its .safetensors file (component 'vae')"), ModelDirectory.verify(dir));
    }

    /** What is no model directory says what it is instead, and where the model is when it can tell. */
    @Test
    void whatIsNoModelDirectoryIsNamedWithAHint(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a.txt"), "x");
        assertEquals(file + ": is not a model directory (a file, not a directory)", assertThrows(CheckpointException.class, () -> ModelDirectory.read(file)).getMessage());
        assertEquals(dir.resolve("nothing") + ": no such model directory", assertThrows(CheckpointException.class, () -> ModelDirectory.read(dir.resolve("nothing"))).getMessage());
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertEquals(empty + ": is not a model directory (no manifest.json); convert a checkpoint with ./puppet-engine convert",
                assertThrows(CheckpointException.class, () -> ModelDirectory.read(empty)).getMessage());
        Path run = Files.createDirectory(dir.resolve("run"));
        Files.writeString(run.resolve("state.json"), "{}");
        assertTrue(assertThrows(CheckpointException.class, () -> ModelDirectory.read(run)).getMessage().endsWith("it is a training checkpoint: its run exports"
                + " the model to RUN/model when it ends (run the same train command again to finish it)"));
        modelOf(Files.createDirectory(run.resolve("model")), outOfHeaderOrder(1), outOfHeaderOrder(1));
        assertTrue(assertThrows(CheckpointException.class, () -> ModelDirectory.read(run)).getMessage().endsWith("the model a training run exported is "
                + run.resolve("model")));
    }

    /** --force replaces a model directory, not a folder holding another program's manifest.json (or a damaged one of ours: its format is what counts). */
    @Test
    void onlyOurManifestsFormatMakesAReplaceableModelDirectory(@TempDir Path dir) throws Exception {
        modelOf(dir, outOfHeaderOrder(1), outOfHeaderOrder(1));
        ModelDirectory.checkReplaceable(dir, true);
        Files.writeString(dir.resolve(ModelDirectory.MANIFEST), "{\"format\": \"" + ModelDirectory.FORMAT + "\", \"version\": 99}");
        assertTrue(ModelDirectory.isModelDirectory(dir));
        Files.writeString(dir.resolve(ModelDirectory.MANIFEST), "{\"format\": \"other\", \"version\": 1}");
        assertFalse(ModelDirectory.isModelDirectory(dir));
        String msg = assertThrows(IOException.class, () -> ModelDirectory.checkReplaceable(dir, true)).getMessage();
        assertTrue(msg.contains("is not an engine model directory") && msg.contains("refusing to delete it"), msg);
    }

    /** write refuses a folder that is no model directory, with force or not, keeping what it holds; an empty one only without force. */
    @Test
    void writeReplacesOnlyWhatForceMay(@TempDir Path dir) throws Exception {
        Path out = Files.createDirectory(dir.resolve("m")), keep = Files.writeString(out.resolve("keep.txt"), "x");
        int[] shape = {2};
        Map<String, ModelDirectory.Component> c = Map.of("vae", new ModelDirectory.Component("{}",
                Map.of("w", new ComponentFile.Source(shape, () -> Tensor.of(CpuBackend.get(), DType.F32, shape, new float[2])))));
        for (boolean force : new boolean[]{false, true}) {
            String msg = assertThrows(IOException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F32, c, force)).getMessage();
            assertTrue(msg.startsWith(out + " is not an engine model directory"), msg);
            assertEquals("x", Files.readString(keep));
        }
        Files.delete(keep);
        String msg = assertThrows(IOException.class, () -> ModelDirectory.write(out, "tiny", "test", 0, true, DType.F32, c, false)).getMessage();
        assertTrue(msg.startsWith(out + " already exists (use --force"), msg);
    }

    /** A manifest entry without a sha256 is named by verify as a mismatch, not taken as sound. */
    @Test
    void verifyNamesAComponentListedWithoutAHash(@TempDir Path dir) throws Exception {
        byte[] sound = outOfHeaderOrder(1);
        Path file = modelOf(dir, sound, sound), manifest = dir.resolve(ModelDirectory.MANIFEST);
        Files.writeString(manifest, Files.readString(manifest).replace("\"" + sha256(sound) + "\"", "null"));
        assertEquals(List.of(file + ": sha256 " + sha256(sound) + ", the manifest says nothing (component 'vae' was modified or damaged)"), ModelDirectory.verify(dir));
    }

    /** The manifest counts each component's tensors and parameters (convert and describe report them). */
    @Test
    void theManifestCountsTensorsAndParameters(@TempDir Path dir) throws Exception {
        Map<String, ComponentFile.Source> tensors = new LinkedHashMap<>();
        for (int[] shape : new int[][]{{2, 3}, {5}})
            tensors.put("t" + shape.length, new ComponentFile.Source(shape, () -> Tensor.of(CpuBackend.get(), DType.F32, shape, new float[shape.length == 2 ? 6 : 5])));
        ModelDirectory.Manifest m = ModelDirectory.write(dir.resolve("m"), "tiny", "test", 0, true, DType.F32, Map.of("vae", new ModelDirectory.Component("{}", tensors)), false);
        assertEquals(List.of(2, 11L), List.of(m.components().get("vae").tensors(), m.components().get("vae").parameters()));
        assertEquals(m, ModelDirectory.read(dir.resolve("m")));
    }

    /** An F32 safetensors file whose header lists tensor b, stored second, before a = (a0, 2), and is padded with spaces past 8-byte alignment. */
    private static byte[] outOfHeaderOrder(float a0) {
        byte[] json = ("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}" + " ".repeat(13)).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + 16).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json);
        return b.putFloat(a0).putFloat(2).putFloat(3).putFloat(4).array();
    }

    /** Makes {@code dir} a model directory whose one component, vae, holds {@code bytes}, listed with the hash of {@code listed}; its file. */
    private static Path modelOf(Path dir, byte[] bytes, byte[] listed) throws Exception {
        Path file = Files.write(dir.resolve("vae.safetensors"), bytes);
        Map<String, ModelDirectory.Entry> c = Map.of("vae", new ModelDirectory.Entry(file.getFileName().toString(), 2, 4, bytes.length, sha256(listed)));
        Files.writeString(dir.resolve(ModelDirectory.MANIFEST), Json.mapper().writeValueAsString(
                new ModelDirectory.Manifest(ModelDirectory.FORMAT, ModelDirectory.VERSION, "tiny", "F32", "test", 0, c, null)));
        return file;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** Linux's count of the bytes this process has read (read and pread alike), from /proc/self/io. */
    private static long readChars(Path io) throws Exception {
        return Long.parseLong(Files.readAllLines(io).stream().filter(l -> l.startsWith("rchar:")).findFirst().orElseThrow().substring(6).trim());
    }

    /** An F32 file holding a (1, 2) Linear's weight. */
    private static Path writeWeight(Path dir, float a, float b) throws Exception {
        Path file = dir.resolve("w.safetensors");
        int[] shape = {2, 1};
        ComponentFile.Source w = new ComponentFile.Source(shape, () -> Tensor.of(CpuBackend.get(), DType.F32, shape, new float[]{a, b}));
        ComponentFile.writeSources(file, file, "vae", "{}", Map.of("weight", w), DType.F32, Map.of());
        return file;
    }

    /** Loads {@code file} as {@code dtype}: the refusal's message, or the loaded weight's element {@code i}. */
    private static String loadAs(Path file, DType dtype, int i) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(file);
             ParameterStore store = ParameterStore.allocate(new Linear(1, 2, false), CpuBackend.get(), dtype)) {
            ComponentFile.load(r, store);
            return String.valueOf(store.parameters().get("weight").value().toDoubleArray()[i]);
        } catch (CheckpointException e) {
            return e.getMessage();
        }
    }
}
