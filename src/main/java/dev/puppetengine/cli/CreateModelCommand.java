package dev.puppetengine.cli;

import dev.puppetengine.io.Json;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.GracefulStop;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** Writes a model directory of a preset with freshly initialised (seeded) weights: the start of a from-scratch run. */
@Command(name = "create-model", mixinStandardHelpOptions = true,
        description = "Create a model directory with random (seeded, PyTorch-default) weights for a preset; drag output convs start at zero.")
final class CreateModelCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "toy", description = "toy, puppet-master or svd-img2vid (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--out", required = true, description = "Model directory to create.")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "Initialisation seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", defaultValue = "fp32", description = "Storage dtype: fp32, bf16, fp16 or fp64 (the CPU reference's precision) (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--force", description = "Replace --out if it is an engine model directory (with manifest.json) or empty; any other directory is refused.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        ModelPresets p = UserError.naming("--preset", () -> ModelPresets.named(preset));
        DType dt = DeviceArgs.dtypeOption("--dtype", dtype);
        OutputPaths.directory("--out", out, false);
        ModelDirectory.checkReplaceable(out, force);   // before initialising the weights (minutes for puppet-master)
        Map<String, Module> modules = new LinkedHashMap<>();
        modules.put("unet", new UNetSpatioTemporalConditionModel(p.unet()));
        modules.put("vae", new AutoencoderKLTemporalDecoder(p.vae()));
        modules.put("image_encoder", new ClipVisionModelWithProjection(p.clip()));
        Map<String, Object> configs = Map.of("unet", p.unet(), "vae", p.vae(), "image_encoder", p.clip());
        Map<String, ModelDirectory.Component> comps = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : modules.entrySet())   // each weight made as it is written: puppet-master's 9 GB of fp32 never at once
            comps.put(e.getKey(), ModelDirectory.Component.initialised(Json.mapper().writeValueAsString(configs.get(e.getKey())), e.getValue(), seed));
        ModelDirectory.Manifest m;
        try (GracefulStop note = StopNote.saying("nothing was written (" + out + " is written whole or not at all)")) {
            m = ModelDirectory.write(out, preset + "-random", "created with seed " + seed + " (untrained)", p.resolution(), true, dt, comps, force);
        }
        m.components().forEach((k, v) -> System.out.printf(Locale.ROOT, "%-14s %5d tensors %,14d params %,12d bytes  sha256 %s%n", k, v.tensors(), v.parameters(), v.bytes(), v.sha256()));
        System.out.println("wrote " + out);
        return 0;
    }
}
