package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** What the bench commands share (a picocli mixin): the model (a directory or a random preset), device, dtype, MFU peak, JSON output. */
final class BenchModelArgs {
    @Option(names = "--model", description = "Engine model directory (default: the shipped models/toy unless --preset).")
    Path model;

    @Option(names = "--preset", description = "Build this preset in memory with random weights instead: toy or puppet-master (the full-size model; GPU-sized).")
    String preset;

    @Mixin
    DeviceArgs target;

    Double peakTflops;

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec mixee;

    @Option(names = "--peak-tflops", description = "The device's dense peak for the dtype (e.g. 989 for H100 SXM bf16): MFU (bench sample/train), the compute side of the roofline %% (bench gemm/kernels).")
    void peakTflops(double v) {
        if (!(v > 0 && v < Double.POSITIVE_INFINITY))
            throw new picocli.CommandLine.ParameterException(mixee.commandLine(), "--peak-tflops must be a finite number > 0, got " + v);
        peakTflops = v;
    }

    @Option(names = "--json", description = "Also write the results as JSON here.")
    Path json;

    /** Checks the options every bench command shares, and what it writes, before it times anything. */
    void check() {
        if (model != null && preset != null)
            throw new UserError("--model and --preset both given: benchmark a model directory or a random preset, not both");
        if (json != null) OutputPaths.file("--json", json);
    }

    /** The model on the chosen backend; a preset without drag modules (svd-img2vid) is refused, as sampling refuses it. */
    LoadedModel open() throws IOException {
        Backend backend = target.backend();
        DType dt = target.dtype();
        if (preset == null) return SamplingArgs.loadModel(modelDir(), backend, dt);
        ModelPresets p = UserError.naming("--preset", () -> ModelPresets.named(preset));
        if (!p.unet().hasDrags()) throw new UserError("--preset " + preset + " has no drag modules: benchmark toy or puppet-master");
        return LoadedModel.random(p, backend, dt, 0);
    }

    /** The UNet config and latent side; a preset's come without building its weights (bench kernels needs only shapes). */
    record Arch(UNetConfig unet, int latentSide, String kind) {}

    Arch arch() throws IOException {
        if (preset == null)
            try (LoadedModel m = open()) {
                return new Arch(m.unet.config(), m.resolution() / m.vae.config().downscaleFactor(), m.manifest.kind());
            }
        ModelPresets p = UserError.naming("--preset", () -> ModelPresets.named(preset));
        return new Arch(p.unet(), p.resolution() / p.vae().downscaleFactor(), p.name() + "-random");
    }

    String label() { return preset != null ? "preset " + preset : modelDir().toString(); }

    /** Achieved over peak, or null when no peak was given. */
    Double mfu(double tflops) { return peakTflops == null ? null : tflops / peakTflops; }

    /** Writes the report atomically when --json was given. */
    void write(ObjectNode report) throws IOException {
        if (json == null) return;
        AtomicFile.writeString(json, Json.mapper().writeValueAsString(report));
        System.err.println("wrote " + json);
    }

    private Path modelDir() { return model != null ? model : EngineHome.defaultModel(); }
}
