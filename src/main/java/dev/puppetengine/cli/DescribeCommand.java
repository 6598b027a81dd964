package dev.puppetengine.cli;

import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** Lists a model preset's parameters (name, checkpoint shape) and counts without allocating any weights. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = "Describe a model preset without allocating it: parameters per top-level module of each component, or every key with --keys.")
final class DescribeCommand implements Runnable {
    @Option(names = "--preset", defaultValue = "puppet-master", description = "puppet-master, svd-img2vid or toy (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--keys", description = "Print every parameter key with its checkpoint shape.")
    boolean keys;

    @Override
    public void run() {
        ModelPresets p = ModelPresets.named(preset);
        describe("unet", new UNetSpatioTemporalConditionModel(p.unet()));
        describe("vae", new AutoencoderKLTemporalDecoder(p.vae()));
        describe("image_encoder", new ClipVisionModelWithProjection(p.clip()));
    }

    private void describe(String component, Module m) {
        Map<String, Long> perModule = new TreeMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (keys) System.out.println(e.getKey() + " " + Arrays.toString(e.getValue().checkpointShape()));
            String[] parts = e.getKey().split("\\.");
            String top = parts[0].endsWith("blocks") ? parts[0] + "." + parts[1] : parts[0];
            perModule.merge(top, e.getValue().numel(), Long::sum);
        }
        if (!keys) perModule.forEach((k, v) -> System.out.printf("  %-28s %,15d%n", k, v));
        System.out.printf("%s %s: %,d tensors, %,d parameters%n%n", preset, component, m.namedParameters().size(), m.parameterCount());
    }
}
