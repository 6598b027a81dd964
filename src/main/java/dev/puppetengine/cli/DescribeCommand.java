package dev.puppetengine.cli;

import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** Lists a model preset's parameters (name, checkpoint shape) and counts without allocating any weights; or verifies a model directory. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = {"Describe a model preset without allocating it: parameters per top-level module of each component, or every key with --keys.",
                "With --verify DIR: check a model directory's files against the SHA-256 sums in its manifest (loading checks only sizes)"
                        + " and their weights for NaN or infinite values; exit 2 naming each file that differs or the first such weight in it."})
final class DescribeCommand implements Callable<Integer> {
    @Option(names = "--verify", paramLabel = "DIR", description = "An engine model directory to verify instead of describing a preset.")
    Path verify;

    @Option(names = "--preset", defaultValue = "puppet-master", description = "puppet-master, svd-img2vid or toy (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--keys", description = "Print every parameter key with its checkpoint shape.")
    boolean keys;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (verify != null) {
            for (String o : new String[]{"--keys", "--preset"})   // they describe a preset, which --verify does not: not silently dropped
                if (spec.commandLine().getParseResult().hasMatchedOption(o))
                    throw new UserError(o + " describes a preset and does not apply to --verify, which checks a model directory's files");
            List<String> bad;
            long mib = 1 << 20;
            try (ProgressBar bar = ProgressBars.of("verify", Math.max(1, (ModelDirectory.verifyBytes(verify) + mib - 1) / mib), " MiB")) {
                long[] read = {0};
                bad = ModelDirectory.verify(verify, n -> bar.stepTo((read[0] += n) / mib));
                bar.stepTo(bar.getMax());   // done: whole MiB read, rounded down, stop short of the total, rounded up (0 of 1 under 1 MiB)
            }
            if (!bad.isEmpty()) throw new UserError(String.join("; ", bad));
            System.out.println(verify + ": every component file matches its manifest sha256 and holds finite weights");
            return 0;
        }
        ModelPresets p = UserError.naming("--preset", () -> ModelPresets.named(preset));
        describe("unet", new UNetSpatioTemporalConditionModel(p.unet()));
        describe("vae", new AutoencoderKLTemporalDecoder(p.vae()));
        describe("image_encoder", new ClipVisionModelWithProjection(p.clip()));
        return 0;
    }

    private void describe(String component, Module m) {
        Map<String, Long> perModule = new TreeMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (keys) System.out.println(e.getKey() + " " + Arrays.toString(e.getValue().checkpointShape()));
            String[] parts = e.getKey().split("\\.");
            String top = parts[0].endsWith("blocks") ? parts[0] + "." + parts[1] : parts[0];
            perModule.merge(top, e.getValue().numel(), Long::sum);
        }
        if (!keys) perModule.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-28s %,15d%n", k, v));
        System.out.printf(Locale.ROOT, "%s %s: %,d tensors, %,d parameters%n%n", preset, component, m.namedParameters().size(), m.parameterCount());
    }
}
