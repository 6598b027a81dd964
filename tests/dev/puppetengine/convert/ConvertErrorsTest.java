package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.testing.OpenFiles;
import dev.puppetengine.testing.ProcDir;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad inputs give one clear error naming the file and tensor, exit code 2, and leave nothing behind. */
class ConvertErrorsTest {
    @TempDir
    static Path shared;
    static Path folder;

    @TempDir
    Path dir;

    @BeforeAll
    static void folder() throws IOException {
        folder = Synthetic.diffusersFolder(shared.resolve("svd"), DType.F32);
    }

    /** Runs convert with {@code args}. */
    private static CliRun run(String... args) {
        return CliRun.of(Stream.concat(Stream.of("convert"), Stream.of(args)).toArray(String[]::new));
    }

    private static void assertFails(CliRun r, String... parts) {
        assertEquals(2, r.code(), r.text());
        for (String s : parts) assertTrue(r.text().contains(s), "expected '" + s + "' in:\n" + r.text());
    }

    /** Nothing under the output's name, and no temporary sibling either. */
    private void assertNothingLeft(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out.getParent())) {
            List<Path> left = s.filter(p -> p.getFileName().toString().startsWith(out.getFileName().toString())).toList();
            assertEquals(List.of(), left);
        }
    }

    private Path copyFolder() throws IOException {
        Path copy = dir.resolve("svd-copy");
        for (String c : Inputs.COMPONENTS) {
            Files.createDirectories(copy.resolve(c));
            try (Stream<Path> s = Files.list(folder.resolve(c))) {
                for (Path f : s.toList()) Files.copy(f, copy.resolve(c).resolve(f.getFileName()));
            }
        }
        return copy;
    }

    @Test
    void exportNamesWhatPythonLoadersWouldReadOtherwise() throws IOException {
        Path engine = dir.resolve("engine");
        assertEquals(0, run(folder.toString(), "--preset", "toy", "--out", engine.toString()).code());
        CliRun r = run(engine.toString(), "--to", "diffusers", "--dry-run");
        assertEquals(0, r.code(), r.text());
        // warnings on stderr: stdout stays the report (convert ... > report.txt), and the user still sees them
        assertTrue(r.err().contains("warning: unet has norm_num_groups 8: diffusers and Puppet-Master's networks.py build 32 groups"), r.text());
        assertTrue(r.err().contains("warning: vae has norm_num_groups 8"), r.text());
        assertFalse(r.text().contains("warning: image_encoder"), r.text());
        assertFalse(r.out().contains("warning"), r.out());
        assertFalse(r.text().contains("unscaled"), r.text());

        Path m = engine.resolve(ModelDirectory.MANIFEST);   // as train --unscaled-input marks its export
        ObjectNode json = (ObjectNode) Json.mapper().readTree(m.toFile());
        Files.writeString(m, json.put("unet_input", "unscaled").toString());
        r = run(engine.toString(), "--to", "diffusers", "--dry-run");
        assertTrue(r.err().contains("warning: the UNet was trained on the unscaled noisy latent") && r.err().contains("sample the export without that scaling"), r.text());
        // the export keeps the setting in the UNet's config.json, and converting it back restores it
        Path back = dir.resolve("back"), exported = dir.resolve("exported");
        assertEquals(0, run(engine.toString(), "--to", "diffusers", "--out", exported.toString()).code());
        assertEquals(0, run(exported.toString(), "--preset", "toy", "--out", back.toString()).code());
        assertFalse(ModelDirectory.read(back).scalesUNetInput());
    }

    /** An output where nothing can be created is refused before the checkpoint is read (minutes for the full model). */
    @Test
    void anOutputWhereNothingCanBeCreatedIsRefusedFirst() {
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux's /proc");
        CliRun r = run(dir.resolve("no-such-input").toString(), "--preset", "toy", "--out", "/proc/x");
        assertFails(r, "--out /proc/x: " + ProcDir.refusal());
    }

    /** An unknown --dtype or --preset is refused naming the option, as by every other command, before any input is read. */
    @Test
    void anUnknownDtypeIsRefusedNamingTheOptionBeforeTheInputsAreRead() throws IOException {
        Path out = dir.resolve("model");
        assertFails(run(folder.toString(), "--preset", "toy", "--dtype", "int8", "--out", out.toString()), "error: --dtype: unknown dtype 'int8'");
        assertNothingLeft(out);
        // --to diffusers too, before the input (here no engine model directory at all) is looked at
        assertFails(run(folder.toString(), "--to", "diffusers", "--dtype", "int8", "--out", out.toString()), "error: --dtype: unknown dtype 'int8'");
        // an unknown preset gets the presets convert takes (svd-img2vid, which it refuses too, is not offered)
        for (String preset : new String[]{"nope", "svd-img2vid"})
            assertFails(run(folder.toString(), "--preset", preset, "--out", out.toString()),
                    "error: --preset must be a Puppet-Master architecture (puppet-master or toy), got '" + preset + "'");
        assertNothingLeft(out);
    }

    /** An engine model directory without --to, a component folder without weights, a config.json that is no object: each named. */
    @Test
    void foldersThatAreNoCheckpointAreNamed() throws IOException {
        Path engine = dir.resolve("engine"), out = dir.resolve("model");
        assertEquals(0, run(folder.toString(), "--preset", "toy", "--out", engine.toString()).code());
        assertFails(run(engine.toString(), "--preset", "toy", "--out", out.toString()), engine + " is already an engine model directory (use --to diffusers to export it)");
        assertFails(run(dir.resolve("nothing.safetensors").toString(), "--preset", "toy", "--out", out.toString()), dir.resolve("nothing.safetensors") + ": no such file");
        assertFails(run(engine.resolve("vae.safetensors").toString(), "--preset", "toy", "--out", out.toString()),
                engine.resolve("vae.safetensors") + " is a component of an engine model directory; give the directory (with --to diffusers to export it)");
        Path in = copyFolder();
        Files.delete(in.resolve("vae/diffusion_pytorch_model.safetensors"));
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), in.resolve("vae") + ": no weights file (looked for diffusion_pytorch_model.safetensors,"
                + " diffusion_pytorch_model.safetensors.index.json, diffusion_pytorch_model.fp16.safetensors, diffusion_pytorch_model.safetensors.index.fp16.json,"
                + " diffusion_pytorch_model.bin, ");
        Files.delete(in.resolve("vae/config.json"));
        Files.delete(in.resolve("vae"));
        Files.writeString(in.resolve("unet/config.json"), "[]");
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), in.resolve("unet/config.json") + ": expected a JSON object");
        assertNothingLeft(out);
    }

    /** The options convert checks before reading anything: --out (unless --dry-run), --to, one input to export; an export's dry run says what it read. */
    @Test
    void optionsAreCheckedAndAnExportsDryRunSaysWhatItWouldDo() throws IOException {
        assertFails(run(folder.toString(), "--preset", "toy"), "--out is required (or use --dry-run)");
        assertFails(run(folder.toString(), "--to", "onnx", "--dry-run"), "--to must be engine or diffusers, got 'onnx'");
        // options of a conversion into an engine model, which an export would ignore
        for (String[] o : new String[][]{{"--preset", "toy"}, {"--seed", "5"}, {"--allow-partial"}})
            assertFails(run(cat(new String[]{folder.toString(), "--to", "diffusers", "--dry-run"}, o)),
                    o[0] + " applies to converting into an engine model directory, not to --to diffusers");
        Path engine = dir.resolve("engine"), export = dir.resolve("export");
        CliRun r = run(folder.toString(), "--preset", "toy", "--out", engine.toString());
        assertEquals(0, r.code(), r.text());
        ModelDirectory.Entry unet = ModelDirectory.read(engine).components().get("unet");
        assertTrue(r.out().contains(String.format(Locale.ROOT, "unet.safetensors           %5d tensors %,15d params %,15d bytes  BF16  sha256 %s%n",
                unet.tensors(), unet.parameters(), unet.bytes(), unet.sha256())) && r.out().endsWith("wrote " + engine + "\n"), r.out());   // the report: each file written
        assertFails(run(engine.toString(), engine.toString(), "--to", "diffusers", "--dry-run"), "--to diffusers takes one engine model directory, got 2 inputs");
        r = run(engine.toString(), "--to", "diffusers", "--out", export.toString());
        assertTrue(r.out().contains("unet/diffusion_pytorch_model.safetensors") && r.out().contains("sha256 " + ModelDirectory.sha256(
                export.resolve("unet/diffusion_pytorch_model.safetensors"))) && r.out().endsWith("wrote " + export + "\n"), r.out());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("export 100%")), r.err());   // the bar closed, drawn full
        r = run(engine.toString(), "--to", "diffusers", "--dry-run");
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("detected " + engine + ": engine model directory (toy, BF16, unet, vae, image_encoder)"), r.out());
        assertTrue(r.out().contains("would export to diffusers layout in BF16; nothing written"), r.out());
        r = run(engine.toString(), "--to", "diffusers", "--dtype", "fp16", "--dry-run");
        assertTrue(r.out().contains("would export to diffusers layout in F16; nothing written"), r.out());
    }

    /**
     * A dry run says what it detected: a diffusers folder's component files, or the one checkpoint a folder without
     * component folders holds (Puppet-Master's ckpts/); and it closes every file it opened.
     */
    @Test
    void aDryRunSaysWhatItDetectedAndClosesTheInputs() throws IOException {
        CliRun r = run(folder.toString(), "--preset", "toy", "--dry-run");
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("detected " + folder + ": diffusers folder (unet unet/diffusion_pytorch_model.safetensors, vae vae/diffusion_pytorch_model.safetensors,"
                + " image_encoder image_encoder/model.safetensors)"), r.out());
        assertTrue(r.out().contains("\n               dropped add_embedding (4 tensors)"), r.out());   // the plan's notes, under their component
        long params = Stream.of(new UNetSpatioTemporalConditionModel(Synthetic.TOY.unet()),
                        new AutoencoderKLTemporalDecoder(Synthetic.TOY.vae()), new ClipVisionModelWithProjection(Synthetic.TOY.clip()))
                .flatMap(m -> m.namedParameters().values().stream()).mapToLong(Parameter::numel).sum();
        int tensors = Stream.of(new UNetSpatioTemporalConditionModel(Synthetic.TOY.unet()),
                new AutoencoderKLTemporalDecoder(Synthetic.TOY.vae()), new ClipVisionModelWithProjection(Synthetic.TOY.clip()))
                .mapToInt(m -> m.namedParameters().size()).sum();
        assertTrue(r.out().contains(String.format(Locale.ROOT, "would write %,d tensors as BF16 (%,d bytes of weights); nothing written", tensors, 2 * params)), r.out());
        Path ckpts = Files.createDirectories(dir.resolve("ckpts"));
        Path index = Synthetic.writeSharded(ckpts, "model", null, Synthetic.svdUnet(), DType.F32, 2);
        r = run(ckpts.toString(), "--preset", "toy", "--dry-run");
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("detected " + index + ": SVD UNet (diffusers names), safetensors, 2 shards, "), r.out());
        assertTrue(r.out().contains("note: no vae, image_encoder in the inputs"), r.out());
        Path bad = Files.createDirectories(dir.resolve("bad"));   // opens both shards, then fails: they are closed too
        Synthetic.writeSharded(bad, "model", null, Synthetic.svdUnet(), DType.F32, 2);
        Files.writeString(bad.resolve(index.getFileName()), Files.readString(index).replace("\"weight_map\" : {", "\"weight_map\" : {\"nothing\" : \"model-00001-of-00002.safetensors\","));
        Path noVae = copyFolder();   // opens the UNet's file, then fails on the VAE's folder: the UNet's is closed too
        Files.delete(noVae.resolve("vae/diffusion_pytorch_model.safetensors"));
        long before = OpenFiles.count();
        for (int i = 0; i < 12; i++) {   // 3 + 2 + 2 + 1 files each
            assertEquals(2, run(noVae.toString(), "--preset", "toy", "--dry-run").code());
            assertEquals(0, run(folder.toString(), "--preset", "toy", "--dry-run").code());
            assertEquals(0, run(ckpts.toString(), "--preset", "toy", "--dry-run").code());
            assertEquals(2, run(bad.toString(), "--preset", "toy", "--dry-run").code());
        }
        assertTrue(OpenFiles.count() < before + 8, before + " open files before, " + OpenFiles.count() + " after");
    }

    @Test
    void truncatedFile() throws IOException {
        Path in = copyFolder(), unet = in.resolve("unet/diffusion_pytorch_model.safetensors"), out = dir.resolve("model");
        byte[] all = Files.readAllBytes(unet);
        Files.write(unet, Arrays.copyOf(all, all.length / 2));
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), unet.toString(), "outside the data section");
        assertNothingLeft(out);
    }

    /** Found by fuzzing: "abc" was read as the preset's resolution and true as 1, writing a model that does not load; "Unscaled" as scaled. */
    @Test
    void anEngineExportsModelFieldsAreCheckedNamingTheConfig() throws IOException {
        Path in = copyFolder(), cfg = in.resolve("unet/config.json"), out = dir.resolve("model");
        ObjectNode good = (ObjectNode) Json.read(cfg);
        String[][] cases = {{"resolution", "\"abc\"", "field 'resolution' must be an integer"}, {"resolution", "true", "field 'resolution' must be an integer"},
                {"resolution", "100", "field 'resolution' must be a multiple of 64, found 100"}, {"kind", "{}", "field 'kind' must be a string"},
                {"unet_input", "\"Unscaled\"", "field 'unet_input' must be \"unscaled\" or absent"}};
        for (String[] c : cases) {
            Files.writeString(cfg, good.deepCopy().set(c[0], Json.mapper().readTree(c[1])).toString());
            assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), cfg + ": " + c[2]);
            assertNothingLeft(out);
        }
    }

    @Test
    void shardedCheckpointsWithABadIndexAreRefusedNamingIt() throws IOException {
        Path in = copyFolder(), out = dir.resolve("model");
        Files.delete(in.resolve("vae/diffusion_pytorch_model.safetensors"));
        Path index = Synthetic.writeSharded(in.resolve("vae"), "diffusion_pytorch_model", null, Synthetic.vae(), DType.F32, 2);
        String good = Files.readString(index), second = "diffusion_pytorch_model-00002-of-00002.safetensors";
        String oneInSecond = Synthetic.vae().keySet().stream().reduce((a, b) -> b).orElseThrow();

        Files.writeString(index, good.replace("\"" + oneInSecond + "\" : \"" + second, "\"" + oneInSecond + "\" : \"diffusion_pytorch_model-00001-of-00002.safetensors"));
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index.toString(),
                "puts tensor " + oneInSecond + " in diffusion_pytorch_model-00001-of-00002.safetensors, which does not hold it (" + second + " does)");

        Files.writeString(index, good);
        Files.move(in.resolve("vae").resolve(second), dir.resolve(second));
        List<String> inSecond = new TreeSet<>(Synthetic.vae().keySet()).stream()
                .filter(k -> good.contains("\"" + k + "\" : \"" + second + "\"")).toList();   // the index's map, in name order
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()),
                index + ": shard " + second + " (of " + inSecond.get(0) + " and " + (inSecond.size() - 1) + " more tensors) is missing");

        for (String outside : new String[]{"../" + second, "..", "a\\u0000b"}) {   // the NUL (found by fuzzing) was an InvalidPathException not naming the index
            Files.writeString(index, good.replace("\"" + second + "\"", "\"" + outside + "\""));
            assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index.toString(), "must name a shard file beside the index");
        }

        Files.writeString(index, "{\"metadata\": {}}");
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index.toString(), "field 'weight_map' is missing");
        for (String map : new String[]{"{}", "[]"}) {
            Files.writeString(index, "{\"weight_map\": " + map + "}");
            assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index + ": field 'weight_map' must be a non-empty object of tensor -> shard file");
        }
        Files.writeString(index, good.replace("\"" + second + "\"", "5"));
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index + ": weight_map['", "'] must name a shard file beside the index, found 5");
        Files.writeString(index, good.replace("\"" + second + "\"", "\"" + index.getFileName() + "\""));   // itself: no endless recursion
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index + ": weight_map['",
                "'] must name a shard file beside the index, found \"" + index.getFileName() + "\"");

        Files.move(dir.resolve(second), in.resolve("vae").resolve(second));
        Files.writeString(index, good.replace("\"weight_map\" : {", "\"weight_map\" : {\"decoder.nothing\" : \"" + second + "\","));   // a tensor no shard holds
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()),
                index + ": weight_map puts tensor decoder.nothing in " + second + ", which does not hold it");
        Files.move(in.resolve("vae").resolve(second), dir.resolve(second));

        Files.writeString(index, good);                                          // a tensor in two shards
        Files.move(dir.resolve(second), in.resolve("vae").resolve(second));
        Synthetic.write(in.resolve("vae/diffusion_pytorch_model-00001-of-00002.safetensors"), Synthetic.vae(), DType.F32);
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), index.toString(), "is in two shards");
        assertNothingLeft(out);
    }

    @Test
    void corruptedHeader() throws IOException {
        Path in = copyFolder(), vae = in.resolve("vae/diffusion_pytorch_model.safetensors"), out = dir.resolve("model");
        byte[] all = Files.readAllBytes(vae);
        for (int i = 12; i < 40; i++) all[i] = '#';
        Files.write(vae, all);
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), vae.toString(), "header is not valid JSON");
        assertNothingLeft(out);
    }

    @Test
    void missingAndUnexpectedTensorsAreNamedAndAllowPartialConvertsAnyway() throws IOException {
        Path in = copyFolder(), vae = in.resolve("vae/diffusion_pytorch_model.safetensors"), out = dir.resolve("model");
        Map<String, Synthetic.Values> t = new LinkedHashMap<>(Synthetic.vae());
        t.remove("decoder.up_blocks.1.resnets.2.temporal_res_block.conv1.weight");
        t.put("decoder.extra.weight", new Synthetic.Values(new int[]{2}, new float[2]));
        Synthetic.write(vae, t, DType.F32);
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), vae.toString(), "does not match the toy vae", "decoder.extra.weight (--allow-partial converts anyway)",
                "1 missing: decoder.up_blocks.1.resnets.2.temporal_res_block.conv1.weight", "1 unexpected: decoder.extra.weight", "--allow-partial");
        assertNothingLeft(out);

        CliRun ok = run(in.toString(), "--preset", "toy", "--allow-partial", "--out", out.toString());
        assertEquals(0, ok.code(), ok.text());
        assertTrue(ok.err().contains("warning: " + vae), ok.text());
        assertFalse(ok.out().contains("warning"), ok.out());
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("vae.safetensors"))) {
            assertTrue(r.contains("decoder.up_blocks.1.resnets.2.temporal_res_block.conv1.weight"));
            assertFalse(r.contains("decoder.extra.weight"));
        }
    }

    @Test
    void misShapedTensorNamesTheExpectedShape() throws IOException {
        Path in = copyFolder(), clip = in.resolve("image_encoder/model.safetensors"), out = dir.resolve("model");
        Map<String, Synthetic.Values> t = new LinkedHashMap<>(Synthetic.clip());
        t.put("visual_projection.weight", new Synthetic.Values(new int[]{32, 64}, new float[32 * 64]));
        Synthetic.write(clip, t, DType.F32);
        assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()), clip.toString(),
                "1 mis-shaped: visual_projection.weight: shape [32, 64], expected [64, 32]");
        assertNothingLeft(out);
    }

    /**
     * A NaN or an infinity in a tensor, or a value that the output dtype cannot hold, is refused naming the file and the
     * tensor, both ways: it was written as it was (fp16: as infinity), a model that samples NaN videos.
     */
    @Test
    void valuesThatAreNotFiniteOrDoNotFitTheDtypeAreRefused() throws IOException {
        Path in = copyFolder(), clip = in.resolve("image_encoder/model.safetensors"), out = dir.resolve("model");
        for (float v : new float[]{Float.NaN, 1e6f}) {
            Map<String, Synthetic.Values> t = new LinkedHashMap<>(Synthetic.clip());
            float[] w = t.get("visual_projection.weight").data().clone();
            w[3] = v;
            t.put("visual_projection.weight", new Synthetic.Values(t.get("visual_projection.weight").shape(), w));
            Synthetic.write(clip, t, DType.F32);
            if (Float.isNaN(v))
                assertFails(run(in.toString(), "--preset", "toy", "--out", out.toString()),
                        clip + ": tensor visual_projection.weight is not finite (element 3 of 2048 is NaN): the file is damaged");
            else
                assertFails(run(in.toString(), "--preset", "toy", "--dtype", "fp16", "--out", out.toString()),
                        clip + ": tensor visual_projection.weight has values beyond the range of F16 (element 3 of 2048 is Infinity once converted)");
            assertNothingLeft(out);
        }
        Path engine = dir.resolve("engine"), encoder = engine.resolve("image_encoder.safetensors");
        FileUtils.copyDirectory(Path.of("models/toy").toFile(), engine.toFile());
        try (SafetensorsReader r = SafetensorsReader.open(encoder);
             FileChannel ch = FileChannel.open(encoder, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            ch.write(ByteBuffer.wrap(new byte[]{(byte) 0x80, (byte) 0xff}), 8 + len.getLong(0) + r.entry("visual_projection.weight").begin());   // bf16 -Infinity
        }
        Path exported = dir.resolve("exported");
        assertFails(run(engine.toString(), "--to", "diffusers", "--out", exported.toString()),
                encoder + ": tensor visual_projection.weight is not finite (element 0 of ");
        assertNothingLeft(exported);
        // an integer tensor where a weight belongs: exported as it was without --dtype, an IllegalArgumentException naming no file with it
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        Path ints = dir.resolve("ints.safetensors");
        try (SafetensorsReader r = SafetensorsReader.open(Path.of("models/toy/image_encoder.safetensors"))) {
            for (SafetensorsEntry e : r.entries()) {
                boolean replaced = e.name().equals("visual_projection.weight");
                items.add(new SafetensorsWriter.Item(e.name(), replaced ? DType.I32 : e.dtype(), e.shape(),
                        sink -> sink.put(replaced ? ByteBuffer.allocate((int) e.byteSize() * 2) : r.read(e.name()))));
            }
            SafetensorsWriter.write(ints, r.metadata(), items);
        }
        Path manifest = engine.resolve(ModelDirectory.MANIFEST);   // the file's new size, so that it loads
        Files.writeString(manifest, Files.readString(manifest).replace("\"bytes\" : " + Files.size(encoder), "\"bytes\" : " + Files.size(ints)));
        Files.move(ints, encoder, StandardCopyOption.REPLACE_EXISTING);
        for (String[] dtype : new String[][]{{}, {"--dtype", "fp32"}})
            assertFails(run(cat(new String[]{engine.toString(), "--to", "diffusers", "--out", exported.toString()}, dtype)),
                    encoder + ": tensor visual_projection.weight is I32, expected a floating type");
        assertNothingLeft(exported);
    }

    @Test
    void wrongModel() throws IOException {
        Path out = dir.resolve("model");
        assertFails(run(folder.toString(), "--out", out.toString()), folder.resolve("unet/config.json").toString(),
                "not the puppet-master unet", "block_out_channels is [32,64,64,64], expected [320,640,1280,1280]");
        Path sgm = Synthetic.sgmFile(dir.resolve("toy-svd.safetensors"), DType.F16);
        assertFails(run(sgm.toString(), "--out", out.toString()), sgm.toString(), "does not match the puppet-master unet",
                "model.diffusion_model.input_blocks.0.0.weight: shape [32, 8, 3, 3], expected [320, 8, 3, 3] (for conv_in.weight)",
                "; it is the toy preset's unet: give --preset toy (--allow-partial converts anyway)");   // a file alone: no config.json says which
        Path vaeOnly = dir.resolve("vae.safetensors");
        Synthetic.write(vaeOnly, Map.of("foo", new Synthetic.Values(new int[]{1}, new float[1])), DType.F32);
        assertFails(run(vaeOnly.toString(), "--out", out.toString()), vaeOnly.toString(), "cannot tell what this checkpoint holds");
        assertNothingLeft(out);
    }

    @Test
    void failureWhileWritingLeavesNothingBehind() throws IOException {
        ModelPresets toy = Synthetic.TOY;
        Path vae = dir.resolve("vae.safetensors"), out = dir.resolve("model");
        Synthetic.write(vae, Synthetic.vae(), DType.F32);
        Map<String, SourceTensor> tensors = new LinkedHashMap<>();
        try (InputFile f = InputFile.open(vae)) {
            f.tensors.forEach((k, t) -> tensors.put(k, k.equals("decoder.conv_out.bias")
                    ? new SourceTensor(t.file(), k, t.dtype(), t.shape(), () -> { throw new IOException(vae + ": read error (simulated)"); }) : t));
            EngineConversion conv = new EngineConversion(toy, DType.BF16, 0, false);
            EngineConversion.Planned p = conv.plan(new ComponentInput("vae", ComponentInput.Naming.DIFFUSERS, vae, "", tensors, null, null));
            IOException e = assertThrows(IOException.class, () -> conv.write(out, List.of(p), "test", false, Progress.NONE));
            assertTrue(e.getMessage().contains("read error (simulated)"), e.getMessage());
        }
        assertNothingLeft(out);
    }

    @Test
    void refusesToOverwriteWithoutForceAndDryRunWritesNothing() throws IOException {
        Path out = dir.resolve("model");
        CliRun dry = run(folder.toString(), "--preset", "toy", "--dry-run", "--out", out.toString());
        assertEquals(0, dry.code(), dry.text());
        assertTrue(dry.text().contains("diffusers folder") && dry.text().contains("nothing written"), dry.text());
        assertNothingLeft(out);

        Files.createDirectories(out);
        Files.writeString(out.resolve("keep"), "x");
        // a folder of other files is refused as such, --force or not (the advice to use --force would be refused next), also in a dry run
        for (String[] extra : new String[][]{{}, {"--force"}, {"--dry-run"}})
            assertFails(run(cat(new String[]{folder.toString(), "--preset", "toy", "--out", out.toString()}, extra)),
                    out + " is not an engine model directory (no manifest.json of format puppet-engine-model) and not empty: refusing to delete it");
        assertTrue(Files.exists(out.resolve("keep")));
        Files.delete(out.resolve("keep"));   // an empty directory is replaced with --force only
        assertFails(run(folder.toString(), "--preset", "toy", "--out", out.toString()), out + " already exists (use --force");
        assertEquals(0, run(folder.toString(), "--preset", "toy", "--force", "--out", out.toString()).code());
        assertTrue(Files.exists(out.resolve("manifest.json")));

        // the export's dry run makes the real run's checks: a component whose file holds another component fails it
        CliRun export = run(out.toString(), "--to", "diffusers", "--dry-run");
        assertEquals(0, export.code(), export.text());
        assertTrue(export.text().contains("checks passed"), export.text());
        Path swapped = dir.resolve("swapped");
        Files.createDirectories(swapped);
        try (Stream<Path> s = Files.list(out)) {
            for (Path f : s.toList()) Files.copy(f, swapped.resolve(f.getFileName()));
        }
        Files.copy(out.resolve("vae.safetensors"), swapped.resolve("unet.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        ObjectNode man = (ObjectNode)
                Json.mapper().readTree(swapped.resolve("manifest.json").toFile());
        ((ObjectNode) man.get("components").get("unet")).put("bytes", Files.size(swapped.resolve("unet.safetensors")));
        Files.writeString(swapped.resolve("manifest.json"), man.toString());
        assertFails(run(swapped.toString(), "--to", "diffusers", "--dry-run"), "unet.safetensors");

        // a component's own file, metadata and all, with its first tensor renamed (one missing, one unexpected): only the
        // tensor checks see it, the dry run's and the export's own before it writes (a missing tensor alone would fail there anyway)
        Path cut = dir.resolve("cut");
        Files.createDirectories(cut);
        try (Stream<Path> s = Files.list(out)) {
            for (Path f : s.toList()) Files.copy(f, cut.resolve(f.getFileName()));
        }
        String dropped;
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("vae.safetensors"))) {
            List<SafetensorsWriter.Item> kept = new ArrayList<>();
            for (SafetensorsEntry e : r.entries())
                kept.add(new SafetensorsWriter.Item(kept.isEmpty() ? "not_in_the_vae.weight" : e.name(), e.dtype(), e.shape(), sink -> sink.put(r.read(e.name()))));
            SafetensorsWriter.write(cut.resolve("vae.safetensors"), r.metadata(), kept);
            dropped = r.entries().get(0).name();
        }
        man = (ObjectNode) Json.mapper().readTree(cut.resolve("manifest.json").toFile());
        ((ObjectNode) man.get("components").get("vae")).put("bytes", Files.size(cut.resolve("vae.safetensors")));
        Files.writeString(cut.resolve("manifest.json"), man.toString());
        assertFails(run(cut.toString(), "--to", "diffusers", "--dry-run"), "vae.safetensors", dropped);
        Path cutExport = dir.resolve("cut-export");
        assertFails(run(cut.toString(), "--to", "diffusers", "--out", cutExport.toString()), "vae.safetensors", "1 missing tensor(s): " + dropped,
                "1 unexpected tensor(s): not_in_the_vae.weight");
        assertNothingLeft(cutExport);
    }

    /**
     * While a convert writes an --out (its lock held), a second one to the same --out is refused naming the lock, before it
     * reads or writes anything: the first one's output is untouched and no copy is left beside it.
     */
    @Test
    void aSecondConvertToAnOutBeingWrittenIsRefused() throws IOException {
        Path out = dir.resolve("model"), export = dir.resolve("export");
        assertEquals(0, run(folder.toString(), "--preset", "toy", "--out", out.toString()).code());
        assertEquals(0, run(out.toString(), "--to", "diffusers", "--out", export.toString()).code());
        byte[] manifest = Files.readAllBytes(out.resolve("manifest.json")), unetConfig = Files.readAllBytes(export.resolve("unet").resolve("config.json"));
        for (Path o : List.of(out, export)) {
            Path lock = dir.resolve(o.getFileName() + ".lock");
            try (LockFile first = LockFile.acquire(lock, "the first convert")) {
                String[] args = o == out ? new String[]{folder.toString(), "--preset", "toy", "--seed", "1", "--force", "--out", o.toString()}
                        : new String[]{out.toString(), "--to", "diffusers", "--dtype", "fp32", "--force", "--out", o.toString()};
                assertFails(run(args), o + ": another convert is writing there", lock + " is locked");
            }
        }
        assertArrayEquals(manifest, Files.readAllBytes(out.resolve("manifest.json")));
        assertArrayEquals(unetConfig, Files.readAllBytes(export.resolve("unet").resolve("config.json")));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("export", "model"), s.map(p -> p.getFileName().toString()).sorted().toList(), "no copy or lock left beside them");
        }
    }

    /** --force replaces an earlier output of the same kind or an empty directory, nothing else, and never an input. */
    @Test
    void forceReplacesOnlyAnEarlierOutputAndNeverAnInput() throws IOException {
        Path notes = Files.createDirectory(dir.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "precious");
        assertFails(run(folder.toString(), "--preset", "toy", "--force", "--out", notes.toString()),
                notes + " is not an engine model directory (no manifest.json of format puppet-engine-model) and not empty: refusing to delete it;"
                        + " choose another --out");
        assertEquals("precious", Files.readString(notes.resolve("notes.txt")));

        Path model = dir.resolve("model");
        assertEquals(0, run(folder.toString(), "--preset", "toy", "--out", model.toString()).code());
        CliRun again = run(folder.toString(), "--preset", "toy", "--seed", "1", "--force", "--out", model.toString());   // a model directory: replaced
        assertEquals(0, again.code(), again.text());
        String manifest = Files.readString(model.resolve("manifest.json"));

        // the input, however spelled, something inside it, or a folder holding it: refused with or without --force
        Path sameModel = dir.resolve("x/../model/."), sameFolder = folder.resolveSibling("./" + folder.getFileName());
        for (String[] force : new String[][]{{}, {"--force"}}) {
            assertFails(run(cat(force, model.toString(), "--to", "diffusers", "--out", sameModel.toString())),
                    "--out " + sameModel + " is the input checkpoint " + model + ": writing it would replace the input; choose another --out");
            assertFails(run(cat(force, folder.toString(), "--preset", "toy", "--out", sameFolder.toString())), "is the input checkpoint " + folder);
            assertFails(run(cat(force, model.toString(), "--to", "diffusers", "--out", model.resolve("export").toString())),
                    "--out " + model.resolve("export") + " is inside the input checkpoint " + model);
            assertFails(run(cat(force, folder.toString(), model.resolve("unet.safetensors").toString(), "--preset", "toy", "--out", dir.toString())),
                    "--out " + dir + " contains the input checkpoint " + model.resolve("unet.safetensors") + ": replacing it would delete the input");
        }
        assertEquals(manifest, Files.readString(model.resolve("manifest.json")));
        assertFalse(Files.exists(model.resolve("export")));
        assertTrue(Files.isRegularFile(folder.resolve("unet/config.json")));

        // --to diffusers: an earlier export is replaced, a diffusers download (model_index.json, scheduler/, ...) is not
        Path export = dir.resolve("export");
        assertEquals(0, run(model.toString(), "--to", "diffusers", "--out", export.toString()).code());
        CliRun exportAgain = run(model.toString(), "--to", "diffusers", "--force", "--out", export.toString());
        assertEquals(0, exportAgain.code(), exportAgain.text());
        Files.writeString(export.resolve("model_index.json"), "{}");
        assertFails(run(model.toString(), "--to", "diffusers", "--force", "--out", export.toString()),
                export + " is not an earlier export (only unet/, vae/, image_encoder/ folders with config.json) and not empty: refusing to delete it");
        assertTrue(Files.exists(export.resolve("model_index.json")));
    }

    private static String[] cat(String[] first, String... rest) {
        return Stream.concat(Stream.of(rest), Stream.of(first)).toArray(String[]::new);
    }

    private static Path fixture(String name) {
        try {
            return Path.of(ConvertErrorsTest.class.getResource("/dev/puppetengine/io/pickle/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * A damaged torch zip or a file too short to be anything: exit 2, the file named, what is wrong with it. (The pickle
     * allow list itself is tested in TorchFileTest.refusesAGlobalOutsideTheAllowList and UnpicklerTest; here: the converter's answer.)
     */
    @Test
    void damagedTorchZipsAndTinyFilesAreNamed() throws IOException {
        Path out = dir.resolve("model");
        byte[] sd = Files.readAllBytes(fixture("state_dict.pt"));
        Path half = dir.resolve("half.pt");
        Files.write(half, Arrays.copyOf(sd, sd.length / 2));
        assertFails(run(half.toString(), "--out", out.toString()), half + ": starts like a zip torch checkpoint but is not a readable zip archive");

        Path deflated = dir.resolve("deflated.pt");   // the same entries, compressed, then data.pkl's stream made invalid
        String pkl = null;
        try (ZipFile in = new ZipFile(fixture("state_dict.pt").toFile());
             ZipOutputStream zo = new ZipOutputStream(Files.newOutputStream(deflated))) {
            for (ZipEntry e : Collections.list(in.entries())) {
                if (e.getName().endsWith("/data.pkl")) pkl = e.getName();
                zo.putNextEntry(new ZipEntry(e.getName()));   // DEFLATED, the stream's default
                try (InputStream is = in.getInputStream(e)) {
                    is.transferTo(zo);
                }
                zo.closeEntry();
            }
        }
        byte[] z = Files.readAllBytes(deflated), name = pkl.getBytes(StandardCharsets.UTF_8);
        int header = 0;                                // data.pkl's local header: "PK\3\4", 26 bytes of fields, then its name
        while (!(z[header] == 'P' && z[header + 1] == 'K' && z[header + 2] == 3 && z[header + 3] == 4
                && Arrays.equals(z, header + 30, header + 30 + name.length, name, 0, name.length))) header++;
        int extra = (z[header + 28] & 0xff) | (z[header + 29] & 0xff) << 8;
        z[header + 30 + name.length + extra] = (byte) 0xff;   // a final block of the reserved type 3
        Files.write(deflated, z);
        assertFails(run(deflated.toString(), "--out", out.toString()), deflated + ": zip entry " + pkl + " is damaged (invalid block type)");

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, Arrays.copyOf(Files.readAllBytes(folder.resolve("unet/diffusion_pytorch_model.safetensors")), 5));
        assertFails(run(tiny.toString(), "--out", out.toString()), tiny + ": 5 bytes, too short to be a safetensors file or a torch checkpoint");
        Path png = Path.of("examples/fish.png");   // not a checkpoint at all: said so, not as a pickle opcode at byte 1
        assertFails(run(png.toString(), "--out", out.toString()), png + ": not a torch checkpoint or pickle (neither a zip archive nor a pickle stream; it is a PNG image)");
        assertNothingLeft(out);
    }

    @Test
    void torchFiles() throws IOException {
        Path out = dir.resolve("model");
        Path evil = fixture("evil_system.pkl");
        assertFails(run(evil.toString(), "--out", out.toString()), evil.toString(), "global posix.system is not on the allow list");
        Path sd = fixture("state_dict.pt");          // a real torch zip state dict, but of no model the engine knows
        assertFails(run(sd.toString(), "--out", out.toString()), sd.toString(), "torch", "cannot tell what this checkpoint holds");
        assertNothingLeft(out);
    }
}
