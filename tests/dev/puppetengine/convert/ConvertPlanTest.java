package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
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

/** The toy's plans (what is taken, created, dropped, reported) from header-only inputs; one small write for the values only the converter makes. */
class ConvertPlanTest {
    private static final UNetConfig PM = Synthetic.TOY.unet();
    private static final Path FILE = Path.of("in.safetensors");

    @TempDir
    Path dir;

    /** A module's tensors under diffusers names, headers only (planning must not read data). */
    private static Map<String, SourceTensor> headers(Module m) {
        Map<String, SourceTensor> out = new LinkedHashMap<>();
        m.namedParameters().forEach((k, p) -> out.put(k, header(k, DType.F32, p.checkpointShape())));
        return out;
    }

    private static SourceTensor header(String name, DType dtype, int[] shape) {
        return new SourceTensor(FILE, name, dtype, shape, () -> { throw new AssertionError("planning read " + name); });
    }

    private static EngineConversion.Planned plan(String component, Map<String, SourceTensor> tensors, boolean allowPartial) {
        return new EngineConversion(Synthetic.TOY, DType.BF16, 0, allowPartial)
                .plan(new ComponentInput(component, ComponentInput.Naming.DIFFUSERS, FILE, "", tensors, null, null));
    }

    private static int drags(Module m) {
        return (int) m.namedParameters().keySet().stream().filter(ComponentInput::isDragModule).count();
    }

    /** Notes say only what happened: a Puppet-Master UNet is taken as it is (no "dropped 0", no "created 0"). */
    @Test
    void aPuppetMasterUnetIsTakenAsItIs() {
        EngineConversion.Planned p = plan(ComponentInput.UNET, headers(new UNetSpatioTemporalConditionModel(PM)), false);
        assertEquals(List.of(), p.notes());
    }

    /** An SVD UNet without add_embedding (nothing to drop) still converts, drags created; a mis-shaped add_embedding is refused. */
    @Test
    void addEmbeddingIsDroppedOnlyWhenThereAndCheckedWhenDropped() {
        Map<String, SourceTensor> svd = headers(new UNetSpatioTemporalConditionModel(PM.svdBase()));
        Map<String, SourceTensor> none = new LinkedHashMap<>(svd);
        none.keySet().removeIf(k -> k.startsWith("add_embedding."));
        EngineConversion.Planned p = plan(ComponentInput.UNET, none, false);
        int drags = drags(new UNetSpatioTemporalConditionModel(PM));
        assertEquals(1, p.notes().size(), p.notes().toString());
        assertTrue(p.notes().get(0).startsWith("created " + drags + " drag-module tensors"), p.notes().toString());

        int[] shape = svd.get("add_embedding.linear_1.weight").shape();
        svd.put("add_embedding.linear_1.weight", header("add_embedding.linear_1.weight", DType.F32, new int[]{shape[0], shape[1] + 1}));
        UserError e = assertThrows(UserError.class, () -> plan(ComponentInput.UNET, svd, false));
        assertTrue(e.getMessage().contains("1 mis-shaped: add_embedding.linear_1.weight: shape [" + shape[0] + ", " + (shape[1] + 1) + "], expected ["
                + shape[0] + ", " + shape[1] + "]"), e.getMessage());
    }

    /**
     * An engine export of an SVD UNet (engine fields such as resnet_eps_down, but num_drags 0) is no Puppet-Master config to
     * build as it is: it becomes the preset's Puppet-Master UNet, drags created, as a hub SVD UNet does.
     */
    @Test
    void anEngineExportOfAnSvdUnetBecomesPuppetMasters() throws IOException {
        ObjectNode cfg = Json.mapper().valueToTree(PM.svdBase());
        assertTrue(cfg.has("resnet_eps_down") && cfg.get("num_drags").asInt() == 0, cfg.toString());
        EngineConversion.Planned p = new EngineConversion(Synthetic.TOY, DType.BF16, 0, false).plan(new ComponentInput(ComponentInput.UNET,
                ComponentInput.Naming.DIFFUSERS, FILE, "", headers(new UNetSpatioTemporalConditionModel(PM.svdBase())), cfg, Path.of("config.json")));
        assertTrue(p.notes().stream().anyMatch(n -> n.startsWith("created " + drags(new UNetSpatioTemporalConditionModel(PM)) + " drag-module tensors")),
                p.notes().toString());
        assertEquals(PM.numDrags(), Json.mapper().readTree(p.configJson()).get("num_drags").asInt(), p.configJson());
    }

    /** Python's json writes 2.0 where a Java config has 2: numbers compare by value, so a hub config of the same model is not refused. */
    @Test
    void configNumbersCompareByValue() {
        ObjectNode cfg = Json.mapper().valueToTree(PM.svdBase());
        cfg.put("layers_per_block", (double) PM.layersPerBlock());
        EngineConversion.Planned p = new EngineConversion(Synthetic.TOY, DType.BF16, 0, false).plan(new ComponentInput(ComponentInput.UNET,
                ComponentInput.Naming.DIFFUSERS, FILE, "", headers(new UNetSpatioTemporalConditionModel(PM.svdBase())), cfg, Path.of("config.json")));
        assertEquals(new UNetSpatioTemporalConditionModel(PM).namedParameters().size(), p.tensors().size());
        cfg.put("layers_per_block", PM.layersPerBlock() + 0.5);
        UserError e = assertThrows(UserError.class, () -> new EngineConversion(Synthetic.TOY, DType.BF16, 0, false).plan(new ComponentInput(ComponentInput.UNET,
                ComponentInput.Naming.DIFFUSERS, FILE, "", headers(new UNetSpatioTemporalConditionModel(PM.svdBase())), cfg, Path.of("config.json"))));
        assertTrue(e.getMessage().contains("layers_per_block is " + (PM.layersPerBlock() + 0.5) + ", expected " + PM.layersPerBlock()), e.getMessage());
    }

    /**
     * --allow-partial: a mis-shaped tensor is written initialised at its own shape (not left out, which would write a model
     * that does not load), and said so; an integer tensor is mis-typed in the plan's report; an unexpected one alone
     * initialises nothing and says nothing of it.
     */
    @Test
    void allowPartialInitialisesWhatIsMisShapedOrNotFloating() {
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(Synthetic.TOY.vae());
        Parameter convIn = vae.namedParameters().get("decoder.conv_in.weight");
        Map<String, SourceTensor> t = headers(vae);
        t.put("decoder.conv_in.weight", header("decoder.conv_in.weight", DType.F32, new int[]{1, 2, 3}));
        t.put("decoder.conv_in.bias", header("decoder.conv_in.bias", DType.I32, t.get("decoder.conv_in.bias").shape()));
        UserError e = assertThrows(UserError.class, () -> plan(ComponentInput.VAE, t, false));
        assertTrue(e.getMessage().contains("2 mis-shaped: decoder.conv_in.weight: shape [1, 2, 3], expected " + Arrays.toString(convIn.checkpointShape())
                + ", decoder.conv_in.bias: dtype I32, expected a floating type"), e.getMessage());

        List<EngineConversion.Planned> p = new ArrayList<>();
        String err = CliRun.stderrDuring(() -> p.add(plan(ComponentInput.VAE, t, true)));
        assertTrue(err.startsWith("warning: in.safetensors: does not match the toy vae: 2 mis-shaped"), err);
        assertEquals(vae.namedParameters().size(), p.get(0).tensors().size());
        assertArrayEquals(convIn.shape(), p.get(0).tensors().get("decoder.conv_in.weight").shape());
        assertTrue(p.get(0).notes().contains("2 missing or mis-shaped tensors initialised (seed 0), unexpected ones skipped"), p.get(0).notes().toString());

        Map<String, SourceTensor> extra = headers(vae);
        extra.put("decoder.extra", header("decoder.extra", DType.F32, new int[]{2}));
        CliRun.stderrDuring(() -> p.set(0, plan(ComponentInput.VAE, extra, true)));
        assertEquals(List.of(), p.get(0).notes());
    }

    /** A tensor an sgm file lacks is named by its sgm name, with the diffusers key it is for. */
    @Test
    void aMissingSgmTensorIsNamedAsTheFileWouldHaveIt() {
        Map<String, SourceTensor> t = new LinkedHashMap<>();
        new UNetSpatioTemporalConditionModel(PM.svdBase()).namedParameters().forEach((k, p) -> {
            SgmNames.Ref ref = SgmNames.unet(PM, k);
            if (!k.equals("conv_in.weight")) t.put(ref.name(), header(ref.name(), DType.F32, p.checkpointShape()));
        });
        UserError e = assertThrows(UserError.class, () -> new EngineConversion(Synthetic.TOY, DType.BF16, 0, false)
                .plan(new ComponentInput(ComponentInput.UNET, ComponentInput.Naming.SGM, FILE, SgmNames.UNET_PREFIX, t, null, null)));
        assertTrue(e.getMessage().contains("1 missing: model.diffusion_model.input_blocks.0.0.weight (for conv_in.weight)"), e.getMessage());
    }

    /**
     * An sgm VAE without SVD's conditioning-frame encoder has no quant_conv: it is written as the identity (weight eye, bias
     * zero), said once, and every tensor written steps the progress.
     */
    @Test
    void anSgmVaeWithoutQuantConvGetsTheIdentity() throws IOException {
        Map<String, Synthetic.Values> vae = Synthetic.vae();
        vae.remove("quant_conv.weight");
        vae.remove("quant_conv.bias");
        int levels = Synthetic.TOY.vae().blockOutChannels().size();
        Path file = dir.resolve("vae.safetensors"), out = dir.resolve("model");
        Synthetic.write(file, Synthetic.sgm("", vae, k -> SgmNames.vae(levels, k)), DType.F32);
        EngineConversion conv = new EngineConversion(Synthetic.TOY, DType.F32, 0, false);
        List<String> steps = new ArrayList<>();
        try (InputFile f = InputFile.open(file)) {
            EngineConversion.Planned p = conv.plan(new ComponentInput(ComponentInput.VAE, ComponentInput.Naming.SGM, file, SgmNames.VAE_PREFIX, f.tensors, null, null));
            assertEquals(1, p.notes().stream().filter(n -> n.startsWith("quant_conv: the file has no conditioning-frame encoder copy")).count(), p.notes().toString());
            conv.write(out, List.of(p), "test", false, Synthetic.recording(steps));
            assertEquals(p.tensors().keySet().stream().map(k -> "vae " + k).toList(), steps);
        }
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("vae.safetensors")); Scope s = Scope.open()) {
            float[] w = r.load("quant_conv.weight", CpuBackend.get(), DType.F32).toFloatArray(), b = r.load("quant_conv.bias", CpuBackend.get(), DType.F32).toFloatArray();
            int c = b.length;
            assertEquals(c * c, w.length);
            for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) assertEquals(i == j ? 1f : 0f, w[i * c + j], "quant_conv.weight[" + i + ", " + j + "]");
            for (float v : b) assertEquals(0f, v);
        }
    }

    /** Each transform's stored shape, and the key's tensor it takes from it: q, k and v the three row blocks of in_proj, in order. */
    @Test
    void eachTransformTakesTheKeysTensorFromTheStoredOne() {
        int[] target = {2, 3};
        assertArrayEquals(target, Transform.IDENTITY.sourceShape(target));
        assertArrayEquals(new int[]{2, 3, 1, 1}, Transform.SQUEEZE.sourceShape(target));
        assertArrayEquals(new int[]{3, 2}, Transform.TRANSPOSE.sourceShape(target));
        assertArrayEquals(new int[]{6, 3}, Transform.rows(2).sourceShape(target));
        double[] fused = new double[18];
        for (int i = 0; i < fused.length; i++) fused[i] = i;
        try (Scope s = Scope.open()) {
            Tensor inProj = Tensor.of(CpuBackend.get(), DType.F64, new int[]{6, 3}, fused);
            for (int part = 0; part < Transform.FUSED; part++) {
                Tensor t = Transform.rows(part).apply(inProj, target);
                assertArrayEquals(target, t.shape());
                assertArrayEquals(Arrays.copyOfRange(fused, 6 * part, 6 * part + 6), t.toDoubleArray(), "part " + part);
            }
            Tensor proj = Tensor.of(CpuBackend.get(), DType.F64, new int[]{3, 2}, 0, 1, 2, 3, 4, 5);
            assertArrayEquals(new double[]{0, 2, 4, 1, 3, 5}, Transform.TRANSPOSE.apply(proj, target).toDoubleArray());
            Tensor conv = Tensor.of(CpuBackend.get(), DType.F64, new int[]{2, 3, 1, 1}, 0, 1, 2, 3, 4, 5);
            Tensor linear = Transform.SQUEEZE.apply(conv, target);
            assertArrayEquals(target, linear.shape());
            assertArrayEquals(new double[]{0, 1, 2, 3, 4, 5}, linear.toDoubleArray());
        }
    }
}
