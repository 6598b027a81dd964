package dev.puppetengine.parity;

import dev.puppetengine.cli.Main;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.LatentDistribution;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.puppetengine.parity.ReferenceFixtures.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Numerical parity of the VAE (encoder + quant_conv posterior, temporal decoder) with diffusers'
 * AutoencoderKLTemporalDecoder at 8e1b7a08: a tiny config (block_out_channels 32, 64: one and two channels per
 * GroupNorm group; layers_per_block 2, so the decoder's mid attention runs), every parameter nonzero by the formula of
 * {@link FormulaWeights} (the decoder's mix factors, 0 at init, included), float32 weights in a diffusers folder with the reference config.json as it is, converted with
 * {@code convert}, non-square 16x20 images and 8x10 latents, two videos of 5 frames decoded in one call
 * ({@code tests/fixtures/gen_reference_parity.py}).
 *
 * <p>Bounds as for the UNet: F64 1e-9 (nothing is computed in float32 in this reference forward, so only float64
 * summation order differs; measured 2-3e-15), F32 1e-5 (measured ~2e-7; the reference's own float32 run: ~1e-6).
 */
class VaeReferenceParityTest {
    static final double TOL_F64 = 1e-9, TOL_F32 = 1e-5;

    static Path engineVae;
    static VaeConfig config;

    @BeforeAll
    static void convert(@TempDir Path tmp) throws IOException {
        Path folder = tmp.resolve("reference"), vae = folder.resolve("vae");
        Files.createDirectories(vae);
        Files.copy(ReferenceFixtures.path("vae/config.json"), vae.resolve("config.json"));
        FormulaWeights.write(ReferenceFixtures.path("vae/weights_manifest.json"), vae.resolve("diffusion_pytorch_model.safetensors"));
        Path out = tmp.resolve("engine");
        assertEquals(0, Main.run("convert", folder.toString(), "--preset", "toy", "--dtype", "fp32", "--out", out.toString()));
        engineVae = out.resolve("vae.safetensors");
        config = Json.mapper().readValue(ReferenceFixtures.path("vae/config.json").toFile(), VaeConfig.class);
        assertEquals(32, config.normNumGroups());
    }

    enum Precision { F64, F32 }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void encodeAndDecodeMatchTheReference(Precision p) throws IOException {
        DType t = DType.valueOf(p.name());
        double tol = p == Precision.F64 ? TOL_F64 : TOL_F32;
        Path io = ReferenceFixtures.path("vae_io.safetensors");
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(config);
        try (SafetensorsReader r = SafetensorsReader.open(engineVae); SafetensorsReader ior = SafetensorsReader.open(io);
             ParameterStore ps = ParameterStore.allocate(vae, CPU, t); Scope s = Scope.open()) {
            assertEquals(config, Json.mapper().readValue(ComponentFile.metadata(r, "vae").get("config"), VaeConfig.class));
            ComponentFile.load(r, ps);
            int frames = Integer.parseInt(ior.metadata().get("num_frames"));
            Tensor images = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "images")), t);
            Tensor latents = ReferenceFixtures.tensor(ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, "latents")), t);
            LatentDistribution post = vae.encode(images);
            double[] decoded = vae.decode(latents, frames).toDoubleArray();
            ReferenceFixtures.Error mean = ReferenceFixtures.error(post.mean().toDoubleArray(), ref(io, "mean_f64"));
            ReferenceFixtures.Error logvar = ReferenceFixtures.error(post.logvar().toDoubleArray(), ref(io, "logvar_f64"));
            ReferenceFixtures.Error dec = ReferenceFixtures.error(decoded, ref(io, "decoded_f64"));
            System.out.println(mean.line("VAE engine " + p + " encode mean"));
            System.out.println(logvar.line("VAE engine " + p + " encode logvar"));
            System.out.println(dec.line("VAE engine " + p + " decode"));
            if (p == Precision.F64) {
                System.out.println(ReferenceFixtures.error(ref(io, "mean_f32"), ref(io, "mean_f64")).line("VAE reference F32 encode mean"));
                System.out.println(ReferenceFixtures.error(ref(io, "decoded_f32"), ref(io, "decoded_f64")).line("VAE reference F32 decode"));
            }
            for (ReferenceFixtures.Error e : List.of(mean, logvar, dec)) assertTrue(e.relL2() < tol && e.relMax() < tol, e.line("VAE " + p));
        }
    }

    private static double[] ref(Path io, String name) {
        return ReferenceFixtures.channelsLast(ReferenceFixtures.read(io, name)).values();
    }
}
