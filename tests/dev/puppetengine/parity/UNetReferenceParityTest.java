package dev.puppetengine.parity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.cli.Main;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static dev.puppetengine.parity.ReferenceFixtures.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Numerical parity of the whole Puppet-Master UNet with the reference implementation: a tiny
 * UNetDragSpatioTemporalConditionModel built by Puppet-Master's networks.py (on diffusers 8e1b7a08): 3 levels of 32, 64,
 * 64 channels (diffusers fixes 32 GroupNorm groups: level 0 has one channel per group, levels 1-2 two, so the time
 * embedding reaches the output only through levels 1-2), layers_per_block 1, heads 2 (head dim 16 / 32), context 32,
 * drag embedder (8, 16, 16), pos_embed_dim 16, 5 drags, every parameter nonzero (drag conv_out included, weights from
 * the formula of {@link FormulaWeights}), all-to-first attention on the 7 spatial attn1 modules train.py sets it on, 14
 * frames, a batch of two videos (one with three drags incl. a random walk and one running into the right/bottom border,
 * two absent slots; one without drags: the unconditional CFG half), run by PyTorch in float64
 * ({@code tests/fixtures/gen_reference_parity.py}).
 *
 * <p>The checkpoint goes the way a user's does: the reference's float32 state dict with its own key names and PyTorch
 * layouts (rebuilt from the formula and checked against the generator's sha256), in a diffusers-style folder,
 * through {@code convert} (fp32 output, channels-last conv weights), then loaded from the engine file. The config is the reference's config.json plus the engine fields, each justified by the reference code
 * (see {@link #engineConfigJson}).
 *
 * <p>Bounds. F64: the reference's float64 run is not float64 throughout: diffusers computes every sinusoidal
 * embedding (diffusion time and the transformers' frame positions) in float32 (get_timestep_embedding: float32
 * exponent, timesteps.float()), the engine in float64; measured 1.5e-9. The bound 1e-6 leaves room for that and still
 * catches the smallest Puppet-Master-specific change tried (stock up-block eps: 4.5e-5, see
 * {@link #theFixtureSeesEachPuppetMasterDeparture}). F32: the reference's own float32 run differs from its float64 run
 * by 6.1e-7 (recorded in the fixture's metadata), the engine's by 1.7e-7; the bound is 1e-5 (an index error, a wrong
 * eps or a missing term gives 1e-5..1e-1).
 */
class UNetReferenceParityTest {
    static final double TOL_F64 = 1e-6, TOL_F32 = 1e-5;

    @TempDir
    static Path tmp;
    static Path engineUnet;
    static UNetConfig config;

    /**
     * The reference config.json plus the engine fields the reference hard-codes in code: no add_embedding (PM's forward
     * has none), all-to-first attention (set by train.py / the demo as processors), GroupNorm 32 groups (diffusers'
     * resnets, transformer norm and conv_norm_out), and the resnet eps per block: CrossAttnDownBlockSpatioTemporalWithFlow
     * 1e-6, diffusers' DownBlockSpatioTemporal 1e-5, UNetMidBlockSpatioTemporal 1e-5, diffusers' UpBlockSpatioTemporal
     * 1e-6 (get_up_block does not pass resnet_eps to it), CrossAttnUpBlockSpatioTemporalWithFlow 1e-5 (PM passes 1e-5).
     */
    static ObjectNode engineConfigJson(Path referenceConfig) throws IOException {
        ObjectNode c = (ObjectNode) Json.mapper().readTree(referenceConfig.toFile());
        c.put("use_add_embedding", false);
        c.put("all_to_first_attention", true);
        c.put("norm_num_groups", 32);
        ArrayNode down = c.putArray("resnet_eps_down"), up = c.putArray("resnet_eps_up");
        c.get("down_block_types").forEach(t -> down.add(t.asText().equals(UNetConfig.CROSS_DOWN) ? 1e-6 : 1e-5));
        c.get("up_block_types").forEach(t -> up.add(t.asText().equals(UNetConfig.CROSS_UP) ? 1e-5 : 1e-6));
        c.put("resnet_eps_mid", 1e-5);
        return c;
    }

    @BeforeAll
    static void convert() throws IOException {
        Path folder = tmp.resolve("reference"), unet = folder.resolve("unet");
        Files.createDirectories(unet);
        FormulaWeights.write(ReferenceFixtures.path("unet/weights_manifest.json"), unet.resolve("diffusion_pytorch_model.safetensors"));
        ObjectNode cfg = engineConfigJson(ReferenceFixtures.path("unet/config.json"));
        Files.writeString(unet.resolve("config.json"), Json.mapper().writeValueAsString(cfg));
        Path out = tmp.resolve("engine");
        assertEquals(0, Main.run("convert", folder.toString(), "--preset", "toy", "--dtype", "fp32", "--out", out.toString()));
        engineUnet = out.resolve("unet.safetensors");
        config = Json.mapper().treeToValue(cfg, UNetConfig.class);
    }

    /** Runs the converted engine UNet on the fixture inputs in {@code t}; returns v (B, F, H, W, 4), channels-last. */
    static double[] engineForward(DType t) throws IOException {
        return engineForward(t, config, false);
    }

    /** The same with another config of the same weights, or without any drags. */
    static double[] engineForward(DType t, UNetConfig cfg, boolean noDrags) throws IOException {
        Path io = ReferenceFixtures.path("unet_io.safetensors");
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        try (SafetensorsReader r = SafetensorsReader.open(engineUnet); ParameterStore ps = ParameterStore.allocate(unet, CPU, t);
             Scope s = Scope.open()) {
            if (cfg == config) assertEquals(config, Json.mapper().readValue(ComponentFile.metadata(r, "unet").get("config"), UNetConfig.class));
            ComponentFile.load(r, ps);
            Tensor sample = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "sample")), t);
            Tensor latents = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "image_latents")), t);
            Tensor context = ReferenceFixtures.tensor(ReferenceFixtures.read(io, "encoder_hidden_states"), t);
            Tensor timestep = ReferenceFixtures.tensor(ReferenceFixtures.read(io, "timestep"), t);
            Tensor drags = noDrags ? null : ReferenceFixtures.tensor(ReferenceFixtures.read(io, "drags"), DType.F32);
            Tensor v = unet.forward(new UNetInputs(sample, timestep, latents, context, drags, null), UNetOptions.INFERENCE);
            return v.toDoubleArray();
        }
    }

    static double[] reference(String name) {
        return ReferenceFixtures.channelsLast(ReferenceFixtures.read(ReferenceFixtures.path("unet_io.safetensors"), name)).values();
    }

    @Test
    void fixtureIsTheModelTheTestThinksItIs() throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(ReferenceFixtures.path("unet_io.safetensors"))) {
            assertEquals(7, r.metadata().get("all_to_first").split(",").length, r.metadata().get("all_to_first"));
        }
        assertEquals(List.of(32, 64, 64), config.blockOutChannels());
        assertEquals(14, config.numFrames());
        assertTrue(config.hasDrags() && config.allToFirstAttention() && !config.useAddEmbedding());
    }

    @Test
    void float64MatchesTheReference() throws IOException {
        double[] ref = reference("out_f64");
        ReferenceFixtures.Error e = ReferenceFixtures.error(engineForward(DType.F64), ref);
        System.out.println(e.line("UNet engine F64 vs reference F64"));
        try (SafetensorsReader r = SafetensorsReader.open(ReferenceFixtures.path("unet_io.safetensors"))) {
            System.out.println("UNet reference F32 vs reference F64: rel L2 " + r.metadata().get("reference_f32_vs_f64_rel_l2"));
        }
        assertTrue(e.relL2() < TOL_F64 && e.relMax() < TOL_F64, e.line("UNet F64"));
    }

    @Test
    void float32MatchesTheReference() throws IOException {
        ReferenceFixtures.Error e = ReferenceFixtures.error(engineForward(DType.F32), reference("out_f64"));
        System.out.println(e.line("UNet engine F32 vs reference F64"));
        assertTrue(e.relL2() < TOL_F32 && e.relMax() < TOL_F32, e.line("UNet F32"));
    }

    /**
     * The fixture discriminates the points where Puppet-Master departs from stock SVD: each departure undone in the
     * engine moves the output far outside the F64 bound (so the passes above are not vacuous).
     */
    @Test
    void theFixtureSeesEachPuppetMasterDeparture() throws IOException {
        double[] ref = reference("out_f64");
        ObjectNode plain = engineConfigJson(ReferenceFixtures.path("unet/config.json"));
        plain.put("all_to_first_attention", false);
        ObjectNode stockEps = engineConfigJson(ReferenceFixtures.path("unet/config.json"));
        ArrayNode up = stockEps.putArray("resnet_eps_up");
        config.upBlockTypes().forEach(x -> up.add(1e-6));
        var json = Json.mapper();
        ReferenceFixtures.Error selfAttn = ReferenceFixtures.error(engineForward(DType.F64, json.treeToValue(plain, UNetConfig.class), false), ref);
        ReferenceFixtures.Error eps = ReferenceFixtures.error(engineForward(DType.F64, json.treeToValue(stockEps, UNetConfig.class), false), ref);
        ReferenceFixtures.Error noDrags = ReferenceFixtures.error(engineForward(DType.F64, config, true), ref);
        System.out.println(selfAttn.line("plain self-attention instead of all-to-first"));
        System.out.println(eps.line("stock up-block eps 1e-6 instead of PM's 1e-5"));
        System.out.println(noDrags.line("drags left out"));
        assertTrue(selfAttn.relL2() > 1e-3, selfAttn.line("self-attention"));
        assertTrue(eps.relL2() > 5 * TOL_F64, eps.line("eps"));        // the F64 test would catch it
        assertTrue(noDrags.relL2() > 1e-3, noDrags.line("no drags"));
    }

    /**
     * The training path: loss = sum(v * proj), gradients of the noisy sample, the image latents, the CLIP context and
     * of 34 parameters (one of each kind of path: drag embedder ends, drag-token MLP, all-to-first to_k/to_v, temporal
     * attention, mix factors, frame positional embedding, up/down samplers, ...) against PyTorch autograd in float64
     * (stored rounded to float32, so ~6e-8 is the floor of the F64 comparison). The drag tokens sample DETACHED
     * features in the reference; {@link UNetOptions#INFERENCE} does the same. Bounds: F64 1e-6 per tensor (measured
     * worst 3.3e-8, the float32 storage of the reference gradients); F32 1e-5 per tensor (measured worst 6.5e-7).
     */
    @ParameterizedTest
    @ValueSource(strings = {"F64", "F32"})
    void gradientsMatchTheReference(String precision) throws IOException {
        DType t = DType.valueOf(precision);
        double tol = t == DType.F64 ? 1e-6 : 1e-5;
        Path io = ReferenceFixtures.path("unet_io.safetensors");
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(config);
        Map<String, ReferenceFixtures.Error> errors = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(engineUnet); SafetensorsReader ior = SafetensorsReader.open(io);
             ParameterStore ps = ParameterStore.allocate(unet, CPU, t); Scope s = Scope.open()) {
            ComponentFile.load(r, ps);
            List<String> params = ior.entries().stream().map(e -> e.name()).filter(n -> n.startsWith("grad.")).map(n -> n.substring(5)).toList();
            assertEquals(34, params.size());
            ps.requireGrad(params::contains);
            Tensor sample = Autograd.requireGrad(
                    ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "sample")), t));
            Tensor latents = Autograd.requireGrad(
                    ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "image_latents")), t));
            Tensor context = Autograd.requireGrad(ReferenceFixtures.tensor(ReferenceFixtures.read(io, "encoder_hidden_states"), t));
            Tensor timestep = ReferenceFixtures.tensor(ReferenceFixtures.read(io, "timestep"), t);
            Tensor drags = ReferenceFixtures.tensor(ReferenceFixtures.read(io, "drags"), DType.F32);
            Tensor proj = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "proj")), t);
            Tensor v = unet.forward(new UNetInputs(sample, timestep, latents, context, drags, null), UNetOptions.INFERENCE);
            Autograd.backward(F.sum(F.mul(v, proj)));
            errors.put("input sample", ReferenceFixtures.error(sample.grad().toDoubleArray(), reference("grad_sample")));
            errors.put("input image_latents", ReferenceFixtures.error(latents.grad().toDoubleArray(), reference("grad_image_latents")));
            errors.put("input encoder_hidden_states", ReferenceFixtures.error(context.grad().toDoubleArray(),
                    ReferenceFixtures.read(io, "grad_encoder_hidden_states").values()));
            for (String name : params) {
                var p = ps.parameters().get(name);
                Tensor g = p.value().grad();
                assertTrue(g != null, "no gradient reached " + name);
                errors.put(name, ReferenceFixtures.error(p.layout().toCheckpoint(g).toDoubleArray(), ReferenceFixtures.read(io, "grad." + name).values()));
            }
        }
        double worst = errors.values().stream().mapToDouble(ReferenceFixtures.Error::relL2).max().orElseThrow();
        String worstName = errors.entrySet().stream().max(Comparator.comparingDouble(e -> e.getValue().relL2())).orElseThrow().getKey();
        System.out.println(String.format(Locale.ROOT, "UNet engine %s gradients vs reference: %d tensors, worst rel L2 %.3e (%s)",
                precision, errors.size(), worst, worstName));
        errors.forEach((k, e) -> assertTrue(e.relL2() < tol, e.line(precision + " grad " + k)));
    }
}
