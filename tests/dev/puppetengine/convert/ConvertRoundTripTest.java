package dev.puppetengine.convert;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.cli.Main;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Toy-size checkpoints with real values through every path: sgm and diffusers to engine, engine to diffusers and back. */
class ConvertRoundTripTest {
    private static final CpuBackend CPU = CpuBackend.get();
    private static final List<String> FILES = List.of("unet.safetensors", "vae.safetensors", "image_encoder.safetensors");

    @TempDir
    static Path dir;
    static Path fromDiffusers, fromSgm;

    @BeforeAll
    static void convertBoth() throws IOException {
        Path folder = Synthetic.diffusersFolder(dir.resolve("svd-diffusers"), DType.F32);
        Path sgm = Synthetic.sgmFile(dir.resolve("svd.safetensors"), DType.F16);
        fromDiffusers = dir.resolve("engine-from-diffusers");
        fromSgm = dir.resolve("engine-from-sgm");
        assertEquals(0, Main.run("convert", folder.toString(), "--preset", "toy", "--out", fromDiffusers.toString()));
        assertEquals(0, Main.run("convert", sgm.toString(), "--preset", "toy", "--out", fromSgm.toString()));
    }

    private static float[] engine(Path modelDir, String file, String key) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(modelDir.resolve(file)); Scope s = Scope.open()) {
            return r.load(key, CPU, DType.F32).toFloatArray();
        }
    }

    @Test
    void sgmAndDiffusersGiveIdenticalEngineFiles() throws IOException {
        for (String f : FILES) assertArrayEquals(Files.readAllBytes(fromDiffusers.resolve(f)), Files.readAllBytes(fromSgm.resolve(f)), f);
        ModelDirectory.Manifest m = ModelDirectory.read(fromSgm);
        assertEquals("BF16", m.dtype());
        assertEquals("toy", m.kind());
        try (LoadedModel lm = LoadedModel.load(fromSgm, CPU, DType.F32)) {        // every key and shape as the engine expects
            assertTrue(lm.unet.config().hasDrags());
        }
    }

    /**
     * svd.safetensors' conditioning-frame encoder (conditioner.embedders.3.encoder: encoder + a learned quant_conv) is the
     * VAE's encoder, not first_stage_model's (no quant_conv): the engine VAE equals a diffusers VAE with that encoder and
     * quant_conv, whatever first_stage_model.encoder holds.
     */
    @Test
    void theConditioningFrameEncoderOfAnSgmFileIsTheVaesEncoder() throws IOException {
        Map<String, Synthetic.Values> vae = new LinkedHashMap<>(Synthetic.vae()), cond = new LinkedHashMap<>();
        vae.replaceAll((k, v) -> {
            if (!k.startsWith("encoder.") && !k.startsWith("quant_conv.")) return v;
            float[] d = v.data().clone();
            for (int i = 0; i < d.length; i++) d[i] = k.startsWith("quant_conv.") ? (i % 3) / 4f : -d[i] / 2;   // exact in every dtype
            return new Synthetic.Values(v.shape(), d);
        });
        Path folder = Synthetic.diffusersFolder(dir.resolve("svd-cond"), DType.F32);
        Synthetic.write(folder.resolve("vae/diffusion_pytorch_model.safetensors"), vae, DType.F32);
        Path sgm = Synthetic.sgmFile(dir.resolve("svd-cond.safetensors"), DType.F32, vae);
        Path a = dir.resolve("engine-cond-diffusers"), b = dir.resolve("engine-cond-sgm");
        assertEquals(0, Main.run("convert", folder.toString(), "--preset", "toy", "--out", a.toString()));
        CliRun r = CliRun.of("convert", sgm.toString(), "--preset", "toy", "--out", b.toString());
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("first_stage_model.* 370 tensors -> vae; conditioner.embedders.0.open_clip.model.visual.* 32 tensors -> image_encoder;"
                + " the vae's encoder and quant_conv from conditioner.embedders.3.encoder.* (SVD's conditioning-frame encoder); ignored: {conditioner.embedders.3=1})"), r.out());
        assertArrayEquals(Files.readAllBytes(a.resolve("vae.safetensors")), Files.readAllBytes(b.resolve("vae.safetensors")));
        // without the copy's quant_conv, first_stage_model's encoder; the leftover named by its sub-model
        r = CliRun.of("convert", dir.resolve("svd.safetensors").toString(), "--preset", "toy", "--dry-run");
        assertTrue(r.out().contains(": Stability single-file (sgm) checkpoint, safetensors (model.diffusion_model.* 1426 tensors -> unet; first_stage_model.* 368 tensors"
                + " -> vae; conditioner.embedders.0.open_clip.model.visual.* 32 tensors -> image_encoder; ignored: {conditioner.embedders.3=1})"), r.out());
        assertFalse(Arrays.equals(Files.readAllBytes(fromSgm.resolve("vae.safetensors")), Files.readAllBytes(b.resolve("vae.safetensors"))),
                "first_stage_model.encoder (the other values) was not used");
    }

    @Test
    void shardedCheckpointsConvertAsTheWholeOnes() throws IOException {
        // the UNet in 3 shards, the image encoder in 2 and the VAE as 2 shards of the fp16 variant, as save_pretrained with a
        // small max_shard_size writes them; Puppet-Master's UNet as a sharded model.safetensors given by its folder
        Path folder = Synthetic.diffusersFolder(dir.resolve("svd-sharded"), DType.F32);
        Files.delete(folder.resolve("unet/diffusion_pytorch_model.safetensors"));
        Files.delete(folder.resolve("image_encoder/model.safetensors"));
        Files.delete(folder.resolve("vae/diffusion_pytorch_model.safetensors"));
        Synthetic.writeSharded(folder.resolve("unet"), "diffusion_pytorch_model", null, Synthetic.svdUnet(), DType.F32, 3);
        Synthetic.writeSharded(folder.resolve("image_encoder"), "model", null, Synthetic.clip(), DType.F32, 2);
        Synthetic.writeSharded(folder.resolve("vae"), "diffusion_pytorch_model", "fp16", Synthetic.vae(), DType.F16, 2);
        Path out = dir.resolve("engine-from-shards");
        assertEquals(0, Main.run("convert", folder.toString(), "--preset", "toy", "--out", out.toString()));
        for (String f : FILES) assertArrayEquals(Files.readAllBytes(fromDiffusers.resolve(f)), Files.readAllBytes(out.resolve(f)), f);

        Path ckpt = dir.resolve("sharded-ckpt");
        Synthetic.writeSharded(ckpt, "model", null, Synthetic.svdUnet(), DType.F32, 2);
        Path out2 = dir.resolve("engine-pm-sharded");
        assertEquals(0, Main.run("convert", folder.toString(), ckpt.toString(), "--preset", "toy", "--out", out2.toString()));
        assertArrayEquals(Files.readAllBytes(fromDiffusers.resolve("unet.safetensors")), Files.readAllBytes(out2.resolve("unet.safetensors")));
    }

    @Test
    void convWeightsAreStoredChannelsLastWithTheSourceValues() throws IOException {
        Synthetic.Values src = Synthetic.svdUnet().get("down_blocks.0.resnets.0.spatial_res_block.conv1.weight");
        float[] got = engine(fromSgm, "unet.safetensors", "down_blocks.0.resnets.0.spatial_res_block.conv1.weight");
        int co = src.shape()[0], ci = src.shape()[1], kh = src.shape()[2], kw = src.shape()[3];
        for (int o = 0; o < co; o++) for (int i = 0; i < ci; i++) for (int y = 0; y < kh; y++) for (int x = 0; x < kw; x++)
            assertEquals(src.data()[((o * ci + i) * kh + y) * kw + x], got[((o * kh + y) * kw + x) * ci + i]);
        Synthetic.Values t = Synthetic.vae().get("decoder.time_conv_out.weight");       // (Cout, Cin, 3, 1, 1) -> (Cout, 3, 1, Cin)
        float[] tg = engine(fromSgm, "vae.safetensors", "decoder.time_conv_out.weight");
        for (int o = 0; o < 3; o++) for (int i = 0; i < 3; i++) for (int k = 0; k < 3; k++)
            assertEquals(t.data()[(o * 3 + i) * 3 + k], tg[(o * 3 + k) * 3 + i]);
    }

    @Test
    void clipQkvSplitAndProjectionTransposeKeepValues() throws IOException {
        Map<String, Synthetic.Values> clip = Synthetic.clip();
        Map<String, Synthetic.Values> sgm = Synthetic.sgm("", clip, SgmNames::clip);
        Synthetic.Values fused = sgm.get("transformer.resblocks.1.attn.in_proj_weight"), fusedBias = sgm.get("transformer.resblocks.1.attn.in_proj_bias");
        int c = fused.shape()[1];
        String[] qkv = {"q_proj", "k_proj", "v_proj"};
        for (int part = 0; part < 3; part++) {
            String key = "vision_model.encoder.layers.1.self_attn." + qkv[part];
            assertArrayEquals(Arrays.copyOfRange(fused.data(), part * c * c, (part + 1) * c * c), engine(fromSgm, "image_encoder.safetensors", key + ".weight"), key);
            assertArrayEquals(Arrays.copyOfRange(fusedBias.data(), part * c, (part + 1) * c), engine(fromSgm, "image_encoder.safetensors", key + ".bias"), key);
        }
        Synthetic.Values proj = sgm.get("proj");                 // (hidden, projection) in open_clip
        float[] vp = engine(fromSgm, "image_encoder.safetensors", "visual_projection.weight");
        int h = proj.shape()[0], p = proj.shape()[1];
        for (int i = 0; i < h; i++) for (int j = 0; j < p; j++) assertEquals(proj.data()[i * p + j], vp[j * h + i]);
        assertArrayEquals(clip.get("visual_projection.weight").data(), vp);
        // the VAE attention's 1x1 convs became Linear weights
        assertArrayEquals(Synthetic.vae().get("encoder.mid_block.attentions.0.to_out.0.weight").data(),
                engine(fromSgm, "vae.safetensors", "encoder.mid_block.attentions.0.to_out.0.weight"));
    }

    @Test
    void dragModulesAreCreatedAsCreateModelDoesWithZeroOutputConvs() throws IOException {
        UNetSpatioTemporalConditionModel pm = new UNetSpatioTemporalConditionModel(Synthetic.TOY.unet());
        Map<String, Parameter> params = pm.namedParameters();
        try (SafetensorsReader r = SafetensorsReader.open(fromSgm.resolve("unet.safetensors"))) {
            assertFalse(r.contains("add_embedding.linear_1.weight"));
            int drags = 0;
            for (String k : params.keySet()) {
                if (!ComponentInput.isDragModule(k)) continue;
                drags++;
                try (Scope s = Scope.open()) {
                    float[] got = r.load(k, CPU, DType.F32).toFloatArray();
                    if (k.contains(".conv_out.")) {
                        for (float v : got) assertEquals(0f, v, k);
                    } else {
                        Tensor want = ParameterStore.initialValue(CPU, DType.F32, k, params.get(k), 0).to(DType.BF16);
                        assertArrayEquals(want.toFloatArray(), got, k);
                    }
                }
            }
            assertEquals(15 * 12 + 15 * 4, drags);          // 15 drag layers: 6 convs and 2 linears each
        }
    }

    /**
     * 'convert svd-folder/ ckpts/model.safetensors': the later file's UNet (a Puppet-Master one, here the SVD values negated)
     * replaces the folder's, drag modules and all, and says so; the VAE and image encoder are the folder's.
     */
    @Test
    void aLaterInputsComponentReplacesAnEarlierOnes() throws IOException {
        Path folder = dir.resolve("svd-diffusers"), pmFile = dir.resolve("ckpts/model.safetensors"), out = dir.resolve("engine-svd-plus-pm");
        Map<String, Synthetic.Values> pm = Synthetic.diffusers(new UNetSpatioTemporalConditionModel(Synthetic.TOY.unet()));
        pm.replaceAll((k, v) -> {
            float[] d = v.data().clone();
            for (int i = 0; i < d.length; i++) d[i] = -d[i];
            return new Synthetic.Values(v.shape(), d);
        });
        Synthetic.write(pmFile, pm, DType.F32);
        CliRun r = CliRun.of("convert", folder.toString(), pmFile.toString(), "--preset", "toy", "--out", out.toString());
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("  unet from " + pmFile + " replaces the one in " + folder.resolve("unet/diffusion_pytorch_model.safetensors")), r.out());
        assertTrue(r.out().contains("detected " + pmFile + ": Puppet-Master UNet (diffusers names + drag modules), safetensors, " + pm.size() + " tensors"), r.out());
        String drag = pm.keySet().stream().filter(k -> ComponentInput.isDragModule(k) && k.endsWith(".bias") && !k.contains(".conv_out.")).findFirst().orElseThrow();
        for (String k : List.of("conv_in.bias", drag)) assertArrayEquals(pm.get(k).data(), engine(out, "unet.safetensors", k), k);
        for (String f : List.of("vae.safetensors", "image_encoder.safetensors")) assertArrayEquals(Files.readAllBytes(fromDiffusers.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
    }

    /** One file of diffusers-named VAE, UNet and CLIP tensors: three components, planned in the usual order; a name of neither joins the larger (the UNet) and is reported there. */
    @Test
    void aFileOfSeveralComponentsIsSplitAndAnUnknownNameJoinsTheLargest() throws IOException {
        Map<String, Synthetic.Values> both = new LinkedHashMap<>(Synthetic.vae());   // the VAE first: the smaller, listed first
        both.putAll(Synthetic.svdUnet());
        both.putAll(Synthetic.clip());
        both.put("extra.weight", new Synthetic.Values(new int[]{2}, new float[2]));
        Path file = dir.resolve("unet-and-vae.safetensors");
        Synthetic.write(file, both, DType.F32);
        CliRun r = CliRun.of("convert", file.toString(), "--preset", "toy", "--dry-run");
        assertEquals(2, r.code(), r.text());
        assertTrue(r.err().contains(file + ": does not match the toy unet: 1 unexpected: extra.weight"), r.text());
        both.remove("extra.weight");
        Synthetic.write(file, both, DType.F32);
        r = CliRun.of("convert", file.toString(), "--preset", "toy", "--dry-run");
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("detected " + file + ": vae + SVD UNet (diffusers names) + image_encoder, safetensors, " + both.size() + " tensors"), r.out());
        int unet = r.out().indexOf("\nunet "), vae = r.out().indexOf("\nvae "), encoder = r.out().indexOf("\nimage_encoder ");
        assertTrue(0 < unet && unet < vae && vae < encoder, "planned as unet, vae, image_encoder, whatever the file's order:\n" + r.out());
    }

    /**
     * A torch training checkpoint (legacy torch.save) whose state dict is nested under 'model' then 'module', beside other
     * entries: found there and converted as the safetensors VAE is; a dict of no tensors at any level is refused naming its keys.
     */
    @Test
    void aTorchStateDictUnderWrappersConvertsAsTheSafetensorsOne() throws IOException {
        Path pt = dir.resolve("vae-ema.pt"), out = dir.resolve("engine-from-torch");
        Synthetic.torchFile(pt, Synthetic.vae(), "model", "module");
        CliRun r = CliRun.of("convert", pt.toString(), "--preset", "toy", "--out", out.toString());
        assertEquals(0, r.code(), r.text());
        assertTrue(r.out().contains("detected " + pt + ": vae, torch, state dict under 'module', " + Synthetic.vae().size() + " tensors"), r.out());
        assertArrayEquals(Files.readAllBytes(fromDiffusers.resolve("vae.safetensors")), Files.readAllBytes(out.resolve("vae.safetensors")));
        Synthetic.torchFile(pt, Map.of(), "model", "module");
        r = CliRun.of("convert", pt.toString(), "--preset", "toy", "--dry-run");
        assertEquals(2, r.code(), r.text());
        assertTrue(r.err().contains(pt + ": a torch file without a state dict (expected a dict of tensors, possibly under one of [state_dict, model, module, ema,"
                + " model_ema, ema_model]); found a dict with keys [epoch, model]"), r.text());
    }

    @Test
    void engineToDiffusersAndBackIsBitExact() throws IOException {
        Path exported = dir.resolve("exported");
        assertEquals(0, Main.run("convert", fromSgm.toString(), "--to", "diffusers", "--out", exported.toString()));
        assertTrue(Files.isRegularFile(exported.resolve("unet/config.json")));
        assertTrue(Files.isRegularFile(exported.resolve("image_encoder/model.safetensors")));
        // diffusers builds the class config.json names: Puppet-Master's drag UNet, not SVD's
        assertEquals("UNetDragSpatioTemporalConditionModel", Json.mapper().readTree(exported.resolve("unet/config.json").toFile()).get("_class_name").asText());
        try (SafetensorsReader r = SafetensorsReader.open(exported.resolve("vae/diffusion_pytorch_model.safetensors")); Scope s = Scope.open()) {
            assertEquals("pt", r.metadata().get("format"));
            Synthetic.Values src = Synthetic.vae().get("decoder.conv_in.weight");    // PyTorch layout again, same values
            assertArrayEquals(src.shape(), r.entry("decoder.conv_in.weight").shape());
            assertEquals(DType.BF16, r.entry("decoder.conv_in.weight").dtype());
            assertArrayEquals(src.data(), r.load("decoder.conv_in.weight", CPU, DType.F32).toFloatArray());
            assertArrayEquals(new int[]{3, 3, 3, 1, 1}, r.entry("decoder.time_conv_out.weight").shape());
        }
        // the export carries the model's kind and resolution: without --preset toy (the default is puppet-master, 256 px) the toy comes back as it was
        ModelDirectory.Manifest source = ModelDirectory.read(fromSgm);
        for (List<String> preset : List.of(List.of("--preset", "toy"), List.<String>of())) {
            Path back = dir.resolve("engine-again" + preset.size());
            List<String> args = new ArrayList<>(List.of("convert", exported.toString(), "--out", back.toString()));
            args.addAll(preset);
            assertEquals(0, Main.run(args.toArray(String[]::new)));
            for (String f : FILES) assertArrayEquals(Files.readAllBytes(fromSgm.resolve(f)), Files.readAllBytes(back.resolve(f)), f + " " + preset);
            ModelDirectory.Manifest m = ModelDirectory.read(back);
            assertEquals(List.of(source.kind(), 64), List.of(m.kind(), m.resolution()), preset.toString());
        }
    }

    /**
     * The export itself (not only convert, which checks first) replaces only an earlier export; in another dtype every
     * tensor is written in it with the same values, each stepping the progress once.
     */
    @Test
    void anExportInAnotherDtypeStepsOncePerTensorAndReplacesOnlyAnEarlierExport() throws IOException {
        Path out = dir.resolve("exported-f32");
        List<String> steps = new ArrayList<>();
        List<DiffusersExport.Written> written = DiffusersExport.export(fromSgm, out, DType.F32, false, Synthetic.recording(steps));
        int tensors = 0;
        for (DiffusersExport.Written w : written)
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve(w.file()))) {
                tensors += r.entries().size();
                for (SafetensorsEntry e : r.entries()) assertEquals(DType.F32, e.dtype(), w.file() + " " + e.name());
            }
        assertEquals(3, written.size());
        assertEquals(tensors, steps.size());
        assertEquals(tensors, DiffusersExport.tensorCount(fromSgm));
        assertTrue(steps.contains("vae decoder.conv_in.weight"), steps.toString());
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("vae/diffusion_pytorch_model.safetensors")); Scope s = Scope.open()) {
            assertArrayEquals(Synthetic.vae().get("decoder.conv_in.weight").data(), r.load("decoder.conv_in.weight", CPU, DType.F32).toFloatArray());
        }

        IOException again = assertThrows(IOException.class, () -> DiffusersExport.export(fromSgm, out, null, false, Progress.NONE));
        assertTrue(again.getMessage().contains("already exists"), again.getMessage());
        Path download = dir.resolve("svd-download");
        Files.createDirectories(download.resolve("unet"));
        Files.writeString(download.resolve("model_index.json"), "{}");
        IOException notOurs = assertThrows(IOException.class, () -> DiffusersExport.export(fromSgm, download, null, true, Progress.NONE));
        assertTrue(notOurs.getMessage().contains("is not an earlier export"), notOurs.getMessage());
        assertTrue(Files.isRegularFile(download.resolve("model_index.json")));
    }
}
