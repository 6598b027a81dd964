package dev.puppetengine.cli;

import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** Lists a model preset's parameters (name, checkpoint shape) and counts without allocating any weights. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = "Describe a model preset without allocating it: parameter count per top-level module, or every key with --keys.")
final class DescribeCommand implements Runnable {
    @Option(names = "--preset", defaultValue = "puppet-master", description = "puppet-master, svd-img2vid or tiny (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--keys", description = "Print every parameter key with its checkpoint shape.")
    boolean keys;

    @Override
    public void run() {
        Module m = new UNetSpatioTemporalConditionModel(Presets.unet(preset));
        Map<String, Long> perModule = new TreeMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (keys) System.out.println(e.getKey() + " " + Arrays.toString(e.getValue().checkpointShape()));
            String[] parts = e.getKey().split("\\.");
            String top = parts[0].endsWith("blocks") ? parts[0] + "." + parts[1] : parts[0];
            perModule.merge(top, e.getValue().numel(), Long::sum);
        }
        if (!keys) perModule.forEach((k, v) -> System.out.printf("%-24s %,15d%n", k, v));
        System.out.printf("%s UNet: %,d tensors, %,d parameters%n", preset, m.namedParameters().size(), m.parameterCount());
    }
}
