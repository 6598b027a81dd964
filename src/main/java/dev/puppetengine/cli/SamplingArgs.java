package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import org.apache.commons.io.function.IOSupplier;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/** The model and sampling options of sample, sample-batch and eval (a picocli mixin), and how they open the model. */
final class SamplingArgs {
    @Option(names = "--model", description = "Engine model directory (default: the shipped models/toy).")
    Path model;

    @Option(names = "--steps", defaultValue = "50", description = "Euler steps, 1 to " + SamplingOptions.MAX_STEPS + " (default: ${DEFAULT-VALUE}; the reference previews use 25).")
    int steps;

    @Option(names = "--guidance", defaultValue = "5.0", description = "Guidance at the last frame, 1 to " + (int) SamplingOptions.MAX_GUIDANCE
            + "; it ramps from --guidance-min at frame 0 (default: ${DEFAULT-VALUE}; CFG is off when it is 1, whatever --guidance-min is, as in the reference).")
    double guidance;

    @Option(names = "--guidance-min", defaultValue = "1.0", description = "Guidance at frame 0, 1 to " + (int) SamplingOptions.MAX_GUIDANCE + " (default: ${DEFAULT-VALUE}).")
    double guidanceMin;

    @Option(names = "--seed", defaultValue = "0", description = "Noise seed: the same seed gives the same video (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    DeviceArgs target;

    @Option(names = "--unscaled-input", description = "Feed the UNet the unscaled noisy latent (for models trained like the public train.py, spec 4.2; "
            + "a model trained so by ./puppet-engine train says so in its manifest and is sampled so without this option).")
    boolean unscaledInput;

    @Option(names = "--cuda-graph", description = "Capture the UNet step in a CUDA graph and replay it (--device cuda; unverified on a GPU so far, "
            + "so off by default; also -Dpuppet.cuda.graph=true). Other devices log why and sample eagerly.")
    boolean cudaGraph;

    /** The options, refusing an out-of-range value naming its option ({@code frames}: --frames, or the data's count). */
    SamplingOptions options(int frames) {
        if (steps < 1 || steps > SamplingOptions.MAX_STEPS) throw new UserError("--steps must be 1 to " + SamplingOptions.MAX_STEPS + ", got " + steps);
        checkFrames(frames);
        try {
            return new SamplingOptions(steps, guidanceMin, guidance, seed, frames, !unscaledInput,
                    cudaGraph || Boolean.getBoolean(SamplingOptions.CUDA_GRAPH_PROPERTY));
        } catch (IllegalArgumentException e) {   // what is left to check: the guidance ramp
            throw new UserError("--guidance-min " + guidanceMin + ", --guidance " + guidance + ": " + Main.message(e));
        }
    }

    Path modelDir() {
        return model != null ? model : EngineHome.defaultModel();
    }

    /**
     * UNets above this size are not practical on the CPU: the full-size one (1.68 B) measured 65 s per step at 2 frames
     * without CFG on 2 cores, so 14 frames with CFG take about 15 minutes a step.
     */
    static final long CPU_PRACTICAL_PARAMETERS = 200_000_000L;

    static boolean tooLargeFor(Backend backend, long unetParameters) {
        return backend instanceof CpuBackend && unetParameters > CPU_PRACTICAL_PARAMETERS;
    }

    /** Loads the model on the chosen device; warns when its weights are untrained or too large for it, and prints what will run. */
    PuppetMaster open() throws IOException {
        Path dir = modelDir();
        Backend backend = target.backend();
        PuppetMaster pm = new PuppetMaster(loadModel(dir, backend, target.dtype()));
        String kind = pm.model().manifest.kind();
        if (kind.endsWith("-random"))
            System.err.println("warning: model '" + kind + "' at " + dir + " has untrained random weights: expect noise, not motion");
        System.err.printf(Locale.ROOT, "model %s (%s, %dx%d), %d steps, %s, seed %d, %s%n", dir, kind, pm.resolution(), pm.resolution(), steps,
                SamplingOptions.cfg(guidance) ? String.format(Locale.ROOT, "guidance %.2f..%.2f", guidanceMin, guidance) : "no guidance (CFG off: --guidance is 1)",
                seed, backend.name());
        if (!unscaledInput && !pm.model().manifest.scalesUNetInput())
            System.err.println("note: the model was trained on the unscaled noisy latent (its manifest's unet_input): it is sampled on it");
        long unetParams = pm.model().unet.parameterCount();
        if (tooLargeFor(backend, unetParams))
            System.err.printf(Locale.ROOT, "note: a %.1f B-parameter UNet on the CPU backend (the float64 reference) takes hours per sample; --device cuda is"
                    + " the way to sample it (docs/PERFORMANCE.md, CPU)%n", unetParams / 1e9);
        return pm;
    }

    /** Refuses a --frames outside what sampling takes; the benchmarks hold to it too (a typo is not a 10 000-frame allocation). */
    static void checkFrames(int frames) {
        if (frames < 1 || frames > SamplingOptions.MAX_FRAMES) throw new UserError("--frames must be 1 to " + SamplingOptions.MAX_FRAMES + ", got " + frames);
    }

    /** Loads a model directory; its problems become one-line user errors. */
    static LoadedModel loadModel(Path dir, Backend backend, DType dtype) throws IOException {
        return fromModel(dir, () -> LoadedModel.load(dir, backend, dtype));
    }

    /** What {@code read} gets from model directory {@code dir}; its problems become one-line user errors. */
    static <T> T fromModel(Path dir, IOSupplier<T> read) throws IOException {
        try {
            return read.get();
        } catch (CheckpointException e) {
            throw new UserError(Main.message(e));
        } catch (NoSuchFileException e) {
            throw new UserError("model directory " + dir + ": missing file " + e.getFile());
        }
    }
}
