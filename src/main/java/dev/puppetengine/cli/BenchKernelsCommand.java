package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.bench.GemmCases;
import dev.puppetengine.bench.KernelCases;
import dev.puppetengine.bench.OpBench;
import dev.puppetengine.bench.OpCase;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine bench kernels: the fused kernels at every UNet level's shapes (from the model's config) next to PyTorch. */
@Command(name = "kernels", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark the fused kernels at the shapes the UNet runs them, every level, against PyTorch on the same device.",
                "",
                "Shapes come from the model's UNet config (channels, heads, groups, drags, all-to-first) at its latent size: all-to-first "
                        + "spatial self-attention, cross-attention to the CLIP + drag-token context, temporal self-attention over the frames, "
                        + "GroupNorm+SiLU per frame (4-D) and frame-pooled (5-D), FiLM x*(1+gamma)+beta, the (3,1,1) temporal conv; "
                        + "forward and backward.",
                "Reports time, TFLOP/s (attention, conv), GB/s (bytes read + written at least once), %% of the roofline (the slower "
                        + "of --peak-tflops and a device copy measured in the same run), PyTorch's time (SDPA with frame-0 K/V expanded "
                        + "to every frame as the reference does, F.group_norm then F.silu, x*(1+g)+b, conv3d) and the speedup "
                        + "(PyTorch ms / our ms).",
                "",
                "GPU: bench kernels --preset puppet-master --device cuda --dtype bf16 --peak-tflops 989 --json kernels.json"})
final class BenchKernelsCommand implements Callable<Integer> {
    @Option(names = "--batch", defaultValue = "2", description = "Videos per call; 2 is sampling's CFG batch, 1 training's (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--frames", description = "Frames, 1 to " + SamplingOptions.MAX_FRAMES + " (default: the UNet config's num_frames).")
    Integer frames;

    @Mixin
    BenchModelArgs bench;

    @Mixin
    OpBenchArgs run;

    @Override
    public Integer call() throws Exception {
        if (run.finishEarlier("bench kernels", bench)) return 0;
        OpBench.Options opts = run.options(bench);
        if (batch < 1) throw new UserError("--batch must be >= 1, got " + batch);
        if (frames != null) SamplingArgs.checkFrames(frames);
        BenchModelArgs.Arch arch = bench.arch();
        UNetConfig cfg = arch.unet();
        int side = arch.latentSide();
        Backend backend = bench.target.backend();
        DType dt = bench.target.dtype();
        String label = bench.label(), kind = arch.kind();
        int f = frames != null ? frames : cfg.numFrames();
        String what = String.format(Locale.ROOT, "bench kernels: %s (%s), batch %d, %d frames, latents %dx%d, channels %s, heads %s, %s %s",
                label, kind, batch, f, side, side, cfg.blockOutChannels(), cfg.numAttentionHeads(), backend.name(), dt);
        List<OpCase> cases = new ArrayList<>(KernelCases.forConfig(cfg, batch, f, side, dt));
        cases.add(0, GemmCases.copy(cases, dt));     // first: the bandwidth roofline, measured on a warm device
        var header = Json.mapper().createObjectNode().put("model", label).put("dtype", dt.name()).put("batch", batch).put("frames", f)
                .put("latent_side", side);
        OpBench.run(backend, what, header, cases, opts);
        return 0;
    }
}
