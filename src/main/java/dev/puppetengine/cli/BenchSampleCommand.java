package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.bench.Median;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;

/**
 * ./puppet-engine bench sample: times whole samples stage by stage (preprocess, CLIP, VAE encode, UNet per
 * step, VAE decode), with peak backend memory and the UNet's achieved TFLOP/s (FLOPs counted by
 * {@link FlopCount} over the matrix ops) and, given the device peak, MFU. Prints a table and writes JSON.
 */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark sampling end to end: per-stage times, UNet ms/step, TFLOP/s, MFU, peak memory; JSON with --json.",
                "Uses --model, or a --preset built in memory with random weights (the full-size puppet-master needs a GPU to be practical).",
                "JSON units: milliseconds for median_ms (the median run's stages), unet_later_step_ms and total_ms_all_runs (each timed run's total,"
                        + " in run order); FLOPs for unet_flops_per_step; TFLOP/s for unet_tflops_per_s; mfu is a fraction of --peak-tflops (0.42 where"
                        + " the table says MFU 42.0%%; null without --peak-tflops); bytes for peak_bytes."})
final class BenchSampleCommand implements Callable<Integer> {
    @Option(names = "--steps", defaultValue = "5", description = "Euler steps per sample, 2 to " + SamplingOptions.MAX_STEPS + ": TFLOP/s and MFU are "
            + "measured over steps 2..N, FLOPs and time alike (the first step also computes what the later ones reuse) (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--frames", defaultValue = "14", description = "Frames, 1 to " + SamplingOptions.MAX_FRAMES + " (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--guidance", defaultValue = "5.0", description = "Guidance at the last frame (from 1.0 at frame 0), 1 to " + (int) SamplingOptions.MAX_GUIDANCE
            + "; > 1 runs the CFG batch of 2 (default: ${DEFAULT-VALUE}).")
    double guidance;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed samples first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--repeat", defaultValue = "3", description = "Timed samples; the table reports the median run, of an even count the faster middle one (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--cuda-graph", description = "Capture the UNet step in a CUDA graph and replay it (--device cuda; unverified on a GPU so far; "
            + "also -Dpuppet.cuda.graph=true).")
    boolean cudaGraph;

    /**
     * {@code unetFlopsPerStep}, {@code laterStepMs}: a UNet step's FLOPs and milliseconds over steps 2..N (one interval for
     * both); {@code nonFiniteNote}: null for a sound sample, else what its non-finite values say (a timing of a broken sample).
     */
    record Run(PuppetMaster.Timings t, long unetFlopsPerStep, double laterStepMs, long totalMs, String nonFiniteNote) {}

    @Mixin
    BenchModelArgs bench;

    @Override
    public Integer call() throws Exception {
        if (warmup < 0) throw new UserError("--warmup must be >= 0, got " + warmup);
        if (repeat < 1) throw new UserError("--repeat must be >= 1, got " + repeat);
        bench.check();
        if (steps < 2 || steps > SamplingOptions.MAX_STEPS)
            throw new UserError("--steps must be 2 to " + SamplingOptions.MAX_STEPS + ", got " + steps + " (the UNet's FLOPs and time per step are measured between steps)");
        SamplingArgs.checkFrames(frames);
        SamplingOptions opts;
        try {
            opts = SamplingOptions.defaults().withSteps(steps).withFrames(frames).withGuidance(guidance);
            if (cudaGraph) opts = opts.withCudaGraph(true);
        } catch (IllegalArgumentException e) {   // what is left: --guidance
            throw new UserError("--guidance " + guidance + ": " + Main.message(e));
        }
        LoadedModel m = bench.open();
        Backend backend = m.unetWeights().backend();
        DType dt = m.unetWeights().dtype();
        try (PuppetMaster pm = new PuppetMaster(m)) {
            int side = pm.resolution();
            RgbImage img = testImage(side);
            List<DragPath> drags = List.of(DragPath.line(0.3, 0.5, 0.6, 0.55), DragPath.line(0.7, 0.3, 0.7, 0.1));
            String what = String.format(Locale.ROOT, "%s (%s), %dx%d, %d frames, %d steps, CFG %s, %s %s%s", bench.label(),
                    m.manifest.kind(), side, side, frames, steps, opts.cfg() ? "on (batch 2)" : "off", backend.name(), dt,
                    opts.cudaGraph() ? ", CUDA graph requested" : "");
            System.err.println("bench sample: " + what);
            Run[] runs = new Run[repeat];
            // a full-size run on a CPU takes hours: the steps of every run, warm-up included, on one bar
            try (ProgressBar bar = ProgressBars.of("bench sample", (long) (warmup + repeat) * steps, " steps")) {
                for (int i = 0; i < warmup + repeat; i++) {
                    long base = (long) i * steps;
                    Run r = once(pm, backend, img, drags, opts, done -> bar.stepTo(base + done));
                    if (i < warmup) continue;
                    runs[i - warmup] = r;
                    ProgressBars.println(String.format(Locale.ROOT, "  run %d: %d ms (unet %.1f ms/step)", i - warmup + 1, r.totalMs(), r.t().unetPerStepMs()));
                }
            }
            // timed, but not a result: a NaN video (a 16-bit overflow, say) may even run at another speed than a sound one
            Arrays.stream(runs).map(Run::nonFiniteNote).filter(Objects::nonNull).findFirst()
                    .ifPresent(note -> System.err.println("warning: these timings are of broken samples: " + note));
            Run med = median(runs);
            PuppetMaster.Timings t = med.t();
            double tflops = med.unetFlopsPerStep() / (med.laterStepMs() / 1e3) / 1e12;
            Double mfu = bench.mfu(tflops);
            System.out.printf(Locale.ROOT, "%-22s %10s%n", "stage", "ms");
            System.out.printf(Locale.ROOT, "%-22s %10d%n%-22s %10d%n%-22s %10d%n%-22s %10.1f%n%-22s %10d%n%-22s %10d%n%-22s %10d%n",
                    "preprocess", t.preprocessMs(), "clip", t.clipMs(), "vae encode", t.vaeEncodeMs(), "unet per step", t.unetPerStepMs(),
                    "unet total", t.unetTotalMs(), "vae decode", t.vaeDecodeMs(), "total", med.totalMs());
            System.out.printf(Locale.ROOT, "unet steps 2..%d: %.4g TFLOP and %.1f ms per step, %.4f TFLOP/s%s; peak memory %.1f MiB%n", steps,
                    med.unetFlopsPerStep() / 1e12, med.laterStepMs(), tflops,
                    mfu == null ? "" : String.format(Locale.ROOT, ", MFU %.1f%%", 100 * mfu), t.peakBytes() / 1048576.0);
            ObjectNode o = Json.mapper().createObjectNode();
            o.put("date", Instant.now().toString());
            o.put("what", what);
            o.put("model", bench.label());
            o.put("backend", backend.name());
            o.put("dtype", dt.name());
            o.put("resolution", side);
            o.put("frames", frames);
            o.put("steps", steps);
            o.put("cfg", opts.cfg());
            o.put("cuda_graph_requested", opts.cudaGraph());
            o.put("repeat", repeat);
            ObjectNode st = o.putObject("median_ms");
            st.put("preprocess", t.preprocessMs()).put("clip", t.clipMs()).put("vae_encode", t.vaeEncodeMs())
                    .put("unet_per_step", t.unetPerStepMs()).put("unet_total", t.unetTotalMs()).put("vae_decode", t.vaeDecodeMs()).put("total", med.totalMs());
            ArrayNode all = o.putArray("total_ms_all_runs");
            for (Run r : runs) all.add(r.totalMs());
            o.put("unet_flops_per_step", med.unetFlopsPerStep());
            o.put("unet_later_step_ms", med.laterStepMs());
            o.put("unet_tflops_per_s", tflops);
            if (mfu != null) o.put("mfu", mfu); else o.putNull("mfu");
            o.put("peak_bytes", t.peakBytes());
            o.put("non_finite_note", med.nonFiniteNote());
            bench.write(o);
        }
        return 0;
    }

    /** The run of median total time ({@link Median}); {@code runs} stay in run order, as total_ms_all_runs lists them. */
    static Run median(Run[] runs) {
        return Arrays.stream(runs).sorted(Comparator.comparingLong(Run::totalMs)).toList().get(Median.index(runs.length));
    }

    /** One sample; the UNet's FLOPs and time per step are taken between the first and last step callbacks; {@code stepped} hears each step done. */
    private static Run once(PuppetMaster pm, Backend backend, RgbImage img, List<DragPath> drags, SamplingOptions o, IntConsumer stepped) {
        long[] at = new long[2], ns = new long[2];
        FlopCount.start();
        long t0 = System.nanoTime();
        PuppetMaster.Result r;
        try {
            r = pm.sample(img, drags, o, (done, total) -> {
                stepped.accept(done);
                if (done != 1 && done != total) return;
                backend.synchronize();   // a device's queued steps count before this instant, not after
                int i = done == 1 ? 0 : 1;
                at[i] = FlopCount.current();
                ns[i] = System.nanoTime();
            });
        } finally {
            FlopCount.stop();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        return new Run(r.timings(), (at[1] - at[0]) / (o.steps() - 1), (ns[1] - ns[0]) / 1e6 / (o.steps() - 1), ms, r.nonFiniteNote());
    }

    /** A deterministic textured test image (the content does not change the cost). */
    private static RgbImage testImage(int side) {
        byte[] rgb = new byte[side * side * 3];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                for (int c = 0; c < 3; c++) rgb[(y * side + x) * 3 + c] = (byte) ((x * (c + 1) + y * (3 - c) * 2) & 0xff);
        return new RgbImage(side, side, rgb);
    }
}
