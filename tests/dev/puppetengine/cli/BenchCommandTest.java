package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.backend.Backends;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The benchmark harness runs and reports every stage, FLOPs and memory (never a timing assertion). */
class BenchCommandTest {
    @Test
    void benchSampleWritesEveryStageAndCountsUNetFlops(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.json");
        String said = CliRun.stderrOf(0, "bench", "sample", "--preset", "toy", "--frames", "2", "--steps", "2", "--warmup", "0", "--repeat", "2",
                "--peak-tflops", "2", "--json", json.toString());
        JsonNode o = Json.mapper().readTree(json.toFile());
        for (String stage : new String[]{"preprocess", "clip", "vae_encode", "unet_per_step", "unet_total", "vae_decode", "total"})
            assertTrue(o.get("median_ms").has(stage), stage);
        // of two runs the median is the faster one (Median.index), a run that really happened, not the slower
        JsonNode all = o.get("total_ms_all_runs");
        assertEquals(Math.min(all.get(0).asLong(), all.get(1).asLong()), o.get("median_ms").get("total").asLong(), o.toString());
        // every run's total in run order, as the "run N: ... ms" lines say, not as sorted to find the median
        List<Long> printed = Pattern.compile("run \\d+: (\\d+) ms").matcher(said).results().map(m -> Long.parseLong(m.group(1))).toList();
        assertEquals(printed, List.of(all.get(0).asLong(), all.get(1).asLong()), said);
        // the bar counts the steps of every run (a full-size CPU run is hours), its run lines each a line of their own
        assertTrue(said.lines().anyMatch(l -> l.startsWith("bench sample 100%") && l.contains(" 4/4 steps")), said);
        assertTrue(said.lines().filter(l -> l.startsWith("  run ")).count() == 2, said);
        // the toy UNet at 8x8 latents, 2 frames, CFG batch 2: at least its conv_in and conv_out alone
        long convInOut = 2L * 2 * 2 * 8 * 8 * (8 * 9 * 32 + 32 * 9 * 4);
        assertTrue(o.get("unet_flops_per_step").asLong() > convInOut, o.toString());
        // the rate divides a later step's FLOPs by a later step's time, not by the mean over all steps with the first
        // (which also computes the drag embeddings the later steps reuse)
        double rate = o.get("unet_flops_per_step").asDouble() / o.get("unet_later_step_ms").asDouble() / 1e9;
        assertEquals(rate, o.get("unet_tflops_per_s").asDouble(), rate * 1e-12, o.toString());
        assertEquals(rate / 2, o.get("mfu").asDouble(), rate * 1e-12, "mfu: achieved over --peak-tflops 2");
        assertTrue(o.get("peak_bytes").asLong() > 0);
        assertTrue(o.get("non_finite_note").isNull(), o.toString());
        assertTrue(said.strip().endsWith("wrote " + json), said);
        assertEquals(2, Main.run("bench", "sample", "--steps", "1"));
        assertEquals(2, Main.run("bench", "sample", "--preset", "svd-img2vid"));   // no drag modules: refused before building it
    }

    /**
     * A --json that cannot be written (a directory, a path under a file) is refused naming it before a model is built
     * or anything timed, by every bench command (BenchModelArgs.check through OutputPaths.file).
     */
    @Test
    void anUnwritableJsonIsRefusedBeforeTiming(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x"), under = file.resolve("bench.json");
        for (String command : new String[]{"sample", "train", "gemm", "kernels"}) {
            assertEquals("error: --json " + dir + " is a directory; give a file name",
                    CliRun.stderrOf(2, "bench", command, "--preset", "toy", "--json", dir.toString()).strip(), command);
            assertEquals("error: --json " + under + ": " + file + " is a file, not a directory",
                    CliRun.stderrOf(2, "bench", command, "--preset", "toy", "--json", under.toString()).strip(), command);
        }
    }

    /** bench sample refuses --steps past sampling's bound and a --guidance out of range naming the option, before building a model. */
    @Test
    void benchSampleNamesTheOptionOfABadStepsOrGuidance() {
        assertEquals("error: --steps must be 2 to 1000, got 1001 (the UNet's FLOPs and time per step are measured between steps)",
                CliRun.stderrOf(2, "bench", "sample", "--preset", "toy", "--steps", "1001").strip());
        assertEquals("error: --guidance 0.5: guidance must be finite and >= 1, got 1.0..0.5",
                CliRun.stderrOf(2, "bench", "sample", "--preset", "toy", "--guidance", "0.5").strip());
        assertEquals("error: --guidance 101.0: guidance must be <= 100.0, got 1.0..101.0",
                CliRun.stderrOf(2, "bench", "sample", "--preset", "toy", "--guidance", "101").strip());
    }

    /** The options bench gemm and bench kernels share are refused naming them before a model is built or anything is timed. */
    @Test
    void benchGemmAndKernelsRefuseTheirSharedOptionsNamingThem(@TempDir Path dir) {
        String absent = dir.resolve("absent.json").toString();
        String[][] bad = {{"--peak-tflops", "0", "--peak-tflops must be a finite number > 0, got 0.0"},
                {"--peak-tflops", "Infinity", "--peak-tflops must be a finite number > 0, got Infinity"},
                {"--model", dir.toString(), "--model and --preset both given"},
                {"--warmup", "-1", "--warmup must be >= 0, got -1"}, {"--iters", "0", "--iters must be >= 1, got 0"},
                {"--torch-results", absent, "--torch-results: no file at " + absent}, {"--torch-script", absent, "--torch-script: no file at " + absent},
                {"--ours-results", absent, "--ours-results: no file at " + absent}};
        for (String bench : new String[]{"gemm", "kernels"})
            for (String[] b : bad) {
                String err = CliRun.stderrOf(2, "bench", bench, "--preset", "toy", "--device", "cpu", b[0], b[1]);
                assertTrue(err.contains(b[2]) && !err.contains("cases, warmup"), bench + " " + b[0] + ": " + err);
            }
        assertEquals("error: --preset svd-img2vid has no drag modules: benchmark toy or puppet-master",
                CliRun.stderrOf(2, "bench", "gemm", "--preset", "svd-img2vid", "--device", "cpu", "--torch", "none").strip());
    }

    /** bench train's steps run, --warmup + --steps, past an int wrapped negative: refused as "steps must be >= 1", an option it does not have. */
    @Test
    void benchTrainRefusesWarmupAndStepsPastAnIntNamingThem() {
        assertEquals("error: --warmup + --steps must be at most 2147483647, got 2147483647 + 3",
                CliRun.stderrOf(2, "bench", "train", "--preset", "toy", "--warmup", "2147483647").strip());
    }

    /** A model directory's weights in fp32: 4 bytes for each parameter its manifest counts (UNet, VAE, image encoder). */
    private static long weightsF32Bytes(Path model) throws Exception {
        return 4 * ModelDirectory.read(model).components().values().stream().mapToLong(ModelDirectory.Entry::parameters).sum();
    }

    /** The numbers of a printed line, in order ("2..3" gives 2 and 3; a percent sign or unit after a number is left out). */
    private static List<Double> numbers(String line) {
        return Pattern.compile("-?\\d+(\\.\\d+)?(e[-+]?\\d+)?").matcher(line).results().map(m -> Double.parseDouble(m.group())).toList();
    }

    /**
     * bench sample's table says what its JSON says, in its units, and the numbers hold together: the stages fit in the
     * total, a UNet step is the UNet total over the steps and the later steps fit in it, the peak holds at least the
     * weights, a step's FLOPs do not depend on --steps, and the warm-up sample is run but not reported.
     */
    @Test
    void benchSampleTableAgreesWithItsJsonAndItsNumbersHoldTogether(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.json"), model = TinyModel.write(dir.resolve("tiny"));
        long began = System.nanoTime();
        CliRun run = CliRun.of("bench", "sample", "--model", model.toString(), "--frames", "2", "--steps", "3", "--warmup", "1", "--repeat", "1",
                "--peak-tflops", "0.001", "--json", json.toString());
        assertEquals(0, run.code(), run.err());
        long commandMs = (System.nanoTime() - began) / 1_000_000;
        JsonNode o = Json.mapper().readTree(json.toFile()), ms = o.get("median_ms");
        List<String> table = run.out().lines().toList();
        assertEquals(List.of("stage", "ms"), List.of(table.get(0).split(" +")), run.out());
        String[] rows = {"preprocess", "clip", "vae encode", "unet per step", "unet total", "vae decode", "total"};
        String[] keys = {"preprocess", "clip", "vae_encode", "unet_per_step", "unet_total", "vae_decode", "total"};
        for (int i = 0; i < rows.length; i++) {
            assertTrue(table.get(1 + i).startsWith(rows[i] + " "), run.out());
            assertEquals(ms.get(keys[i]).asDouble(), Double.parseDouble(table.get(1 + i).substring(rows[i].length()).strip()), 0.05, rows[i]);
        }
        long stages = ms.get("preprocess").asLong() + ms.get("clip").asLong() + ms.get("vae_encode").asLong() + ms.get("unet_total").asLong()
                + ms.get("vae_decode").asLong();
        assertTrue(stages <= ms.get("total").asLong(), "the stages are parts of the run: " + ms);
        assertTrue(ms.get("total").asLong() <= commandMs, "a timed run is part of the command, which took " + commandMs + " ms: " + ms);
        assertEquals(ms.get("unet_total").asDouble() / 3, ms.get("unet_per_step").asDouble(), 1e-9, ms.toString());
        // steps 2..3 are timed inside the UNet stage (whole ms): two of them cannot take longer than it
        double later = o.get("unet_later_step_ms").asDouble();
        assertTrue(later > 0 && 2 * later < ms.get("unet_total").asLong() + 1, o.toString());
        long peak = o.get("peak_bytes").asLong();
        assertTrue(peak >= weightsF32Bytes(model), peak + " bytes at peak, the weights alone take " + weightsF32Bytes(model));
        // "unet steps 2..3: X TFLOP and Y ms per step, Z TFLOP/s, MFU W%; peak memory V MiB", the JSON's values in those units
        String summary = table.get(1 + rows.length);
        assertTrue(summary.startsWith("unet steps 2..3: ") && summary.contains(" TFLOP and ") && summary.contains(", MFU ")
                && summary.endsWith(" MiB"), summary);
        List<Double> n = numbers(summary);
        double flops = o.get("unet_flops_per_step").asDouble(), tflops = o.get("unet_tflops_per_s").asDouble();
        assertEquals(flops / 1e12, n.get(2), flops / 1e12 * 1e-3, summary);
        assertEquals(later, n.get(3), 0.05, summary);
        assertEquals(tflops, n.get(4), 5e-5, summary);
        assertEquals(100 * o.get("mfu").asDouble(), n.get(5), 0.05, summary);
        assertEquals(100 * tflops / 0.001, n.get(5), 0.05, "MFU: achieved over --peak-tflops 0.001 (a CPU's tiny rate), in percent");
        assertEquals(peak / 1048576.0, n.get(6), 0.05, summary);
        // the warm-up sample ran (the bar counts 2 samples x 3 steps, from its first draw: its ETA needs the total) and is
        // not among the reported runs
        assertTrue(run.err().lines().anyMatch(l -> l.startsWith("bench sample   0%") && l.contains(" 0/6 steps")), run.err());
        assertTrue(run.err().lines().anyMatch(l -> l.startsWith("bench sample 100%") && l.contains(" 6/6 steps")), run.err());
        // the one timed run is run 1, its total and UNet ms/step those reported
        assertEquals(List.of("  run 1: " + ms.get("total").asLong() + " ms (unet " + String.format(Locale.ROOT, "%.1f", ms.get("unet_per_step").asDouble())
                + " ms/step)"), run.err().lines().filter(l -> l.startsWith("  run ")).toList(), run.err());
        assertEquals(1, o.get("total_ms_all_runs").size());
        assertEquals(1, o.get("repeat").asInt());
        assertTrue(o.get("what").asText().endsWith(", 2 frames, 3 steps, CFG on (batch 2), cpu F32") && o.get("cfg").asBoolean(), o.toString());
        assertFalse(o.get("cuda_graph_requested").asBoolean(), o.toString());
        assertEquals(model.toString(), o.get("model").asText());

        // the same sample at 2 steps: the same FLOPs per UNet step; without --peak-tflops no MFU, without --json nothing written;
        // --cuda-graph is said to be requested (the CPU then samples eagerly, the same products)
        CliRun two = CliRun.of("bench", "sample", "--model", model.toString(), "--frames", "2", "--steps", "2", "--warmup", "0", "--repeat", "1",
                "--cuda-graph");
        assertEquals(0, two.code(), two.err());
        assertTrue(two.err().lines().anyMatch(l -> l.startsWith("bench sample: " + model) && l.endsWith(", 2 steps, CFG on (batch 2), cpu F32, CUDA graph requested")),
                two.err());
        String line = two.out().lines().filter(l -> l.startsWith("unet steps 2..2: ")).findFirst().orElseThrow();
        assertEquals(n.get(2), numbers(line).get(2), line + " against " + summary);
        assertFalse(line.contains("MFU"), line);
        assertFalse(two.err().contains("wrote "), two.err());
    }

    /**
     * bench train honours --warmup and --steps (the timed steps printed and listed in order, the warm-up step not), reports
     * the median step, and derives TFLOP/s and MFU from it; its printed line says what its JSON says, in its units.
     */
    @Test
    void benchTrainReportsTheMedianOfItsTimedStepsAndAgreesWithItsJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("train.json"), model = TinyModel.write(dir.resolve("tiny"));
        Files.writeString(json, "an older report, longer than the new one: ".repeat(1000));   // replaced whole, not overwritten in place
        long began = System.nanoTime();
        CliRun run = CliRun.of("bench", "train", "--model", model.toString(), "--frames", "1", "--steps", "3", "--warmup", "1", "--peak-tflops", "0.001",
                "--gradient-checkpointing", "--json", json.toString());
        assertEquals(0, run.code(), run.err());
        long commandMs = (System.nanoTime() - began) / 1_000_000;
        JsonNode o = Json.mapper().readTree(json.toFile());
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(Set.of(json, model), left.collect(Collectors.toSet()), "no temporary file left beside the report");
        }
        assertTrue(run.err().strip().endsWith("wrote " + json), run.err());
        List<Long> steps = new ArrayList<>();
        o.get("ms_per_step").forEach(t -> steps.add(t.asLong()));
        List<Long> printed = Pattern.compile("(?m)^  step (\\d+): (\\d+) ms").matcher(run.err()).results()
                .map(m -> Long.parseLong(m.group(2))).toList();
        assertEquals(List.of("1", "2", "3"), Pattern.compile("(?m)^  step (\\d+): ").matcher(run.err()).results().map(m -> m.group(1)).toList(), run.err());
        assertEquals(steps, printed, "ms_per_step lists the timed steps in run order");
        assertTrue(steps.stream().allMatch(t -> t <= commandMs), "each timed step is part of the command, which took " + commandMs + " ms: " + steps);
        long med = steps.stream().sorted().toList().get(1);
        assertEquals(med, o.get("median_ms_per_step").asLong(), o.toString());
        double flops = o.get("model_flops_per_step").asDouble(), tflops = o.get("tflops_per_s").asDouble();
        assertEquals(flops / (med / 1e3) / 1e12, tflops, tflops * 1e-12, o.toString());
        assertEquals(tflops / 0.001, o.get("mfu").asDouble(), tflops * 1e-9, "mfu: achieved over --peak-tflops 0.001");
        long peak = o.get("peak_bytes").asLong();
        assertTrue(peak >= weightsF32Bytes(model), peak + " bytes at peak, the weights alone take " + weightsF32Bytes(model));
        int side = TinyModel.SIDE / VaeConfig.tiny(8).downscaleFactor();   // the frames' side over the VAE's downscale
        assertEquals(List.of(side, 1), List.of(o.get("latent_side").asInt(), o.get("frames").asInt()), o.toString());
        String what = o.get("what").asText();
        assertTrue(what.startsWith(model + " (tiny-random), latents 1x1x" + side + "x" + side + ", ") && what.endsWith(", checkpointing on, cpu F32"), what);
        assertTrue(run.err().lines().anyMatch(l -> l.equals("bench train: " + what)), run.err());
        assertFalse(o.has("skipped_steps"), "fp32 trains without loss scaling: no step can be skipped");
        // "train step: M ms (median of 3); X TFLOP/step (forward F, backward B; recomputed R more), T TFLOP/s, MFU P%; peak memory Q MiB"
        String line = run.out().strip();
        assertTrue(line.startsWith("train step: ") && line.contains(" TFLOP/step (forward ") && line.contains(" more), ") && line.endsWith(" MiB"), line);
        List<Double> n = numbers(line);
        assertEquals(List.of((double) med, 3.0), n.subList(0, 2), line);
        assertEquals(flops / 1e12, n.get(2), flops / 1e12 * 1e-3, line);
        assertEquals(o.get("forward_flops").asDouble() / 1e12, n.get(3), n.get(3) * 1e-3, line);
        assertEquals(o.get("backward_flops").asDouble() / 1e12, n.get(4), n.get(4) * 1e-3, line);
        assertEquals(o.get("recomputed_flops").asDouble() / 1e12, n.get(5), n.get(5) * 1e-3, line);
        assertTrue(n.get(5) > 0, "a checkpointed backward runs the forward again: " + line);
        assertEquals(tflops, n.get(6), 5e-5, line);
        assertEquals(100 * tflops / 0.001, n.get(7), 0.05, line);
        assertEquals(peak / 1048576.0, n.get(8), 0.05, line);
    }

    /**
     * Each bench command refuses a bad count naming the option, and accepts the bounds themselves: a bound taken for out
     * of range would be refused by its own message, before the later check that the call below then fails instead.
     */
    @Test
    void benchCountsAreRefusedNamingTheOptionAndTheirBoundsAccepted() {
        String[][] cases = {
                {"sample --warmup -1", "error: --warmup must be >= 0, got -1"},
                {"sample --repeat 0", "error: --repeat must be >= 1, got 0"},
                {"sample --steps 1", "error: --steps must be 2 to 1000, got 1 (the UNet's FLOPs and time per step are measured between steps)"},
                // --steps 2 and 1000 are in range: the bad --guidance after them is what is refused
                {"sample --steps 2 --guidance 0.5", "error: --guidance 0.5: guidance must be finite and >= 1, got 1.0..0.5"},
                {"sample --steps 1000 --guidance 0.5", "error: --guidance 0.5: guidance must be finite and >= 1, got 1.0..0.5"},
                {"sample --warmup 0 --repeat 1 --frames 0", "error: --frames must be 1 to 128, got 0"},
                // warm-up + steps exactly the largest int is allowed
                {"train --warmup 2147483644 --steps 3 --frames 0", "error: --frames must be 1 to 128, got 0"},
                {"train --warmup 0 --steps 1 --frames 0", "error: --frames must be 1 to 128, got 0"},
                {"train --trainable some", "error: --trainable must be all or drag-attention, got 'some'"},
                {"kernels --batch 0", "error: --batch must be >= 1, got 0"},
                {"kernels --batch 1 --frames 0", "error: --frames must be 1 to 128, got 0"},
                {"gemm --square 4096,x", "error: --square: expected sizes such as 4096,8192 or none, got 4096,x"},
                {"gemm --square 64,-2", "error: --square: sizes must be positive, got -2"},
                {"gemm --square 1 --frames 0", "error: --frames must be 1 to 128, got 0"},
                {"gemm --square none --frames 0", "error: --frames must be 1 to 128, got 0"}};
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of("bench"));
            args.addAll(List.of(c[0].split(" ")));
            args.addAll(List.of("--preset", "toy", "--device", "cpu"));
            assertEquals(c[1], CliRun.stderrOf(2, args.toArray(new String[0])).strip(), c[0]);
        }
    }

    /** bench alone lists its four benchmarks (and help) rather than running one. */
    @Test
    void benchAloneListsItsSubcommands() {
        CliRun r = CliRun.of("bench");
        assertEquals(0, r.code(), r.err());
        for (String sub : new String[]{"sample", "train", "gemm", "kernels", "help"})
            assertTrue(r.out().lines().anyMatch(l -> l.strip().startsWith(sub + " ")), sub + " in:\n" + r.out());
    }

    /** Where CUDA is unusable, --device cuda is refused by every bench command naming the device and why, before any timing. */
    @Test
    void cudaWithoutAUsableDeviceIsRefusedNamingIt() {
        String why = Backends.cudaUnavailableReason();
        assumeTrue(why != null, "this machine has a usable CUDA device");
        for (String command : new String[]{"sample", "train", "gemm", "kernels"}) {
            CliRun r = CliRun.of("bench", command, "--preset", "toy", "--device", "cuda");
            assertEquals(1, r.code(), command + ": " + r.err());
            assertEquals("error: --device cuda: CUDA requested but unusable: " + why + " (--device cpu or auto runs without a GPU)", r.err().strip(), command);
            assertEquals("", r.out(), command);
        }
    }

    /** The median run is found without reordering the runs, which total_ms_all_runs lists in run order. */
    @Test
    void theMedianRunLeavesTheRunsInRunOrder() {
        BenchSampleCommand.Run[] runs = LongStream.of(300, 100, 200).mapToObj(ms -> new BenchSampleCommand.Run(null, 0, 0, ms, null))
                .toArray(BenchSampleCommand.Run[]::new);
        assertEquals(200, BenchSampleCommand.median(runs).totalMs());
        assertEquals(List.of(300L, 100L, 200L), Arrays.stream(runs).map(BenchSampleCommand.Run::totalMs).toList());
    }

    /** Timings of a sample whose frames came out NaN are said to be of a broken sample, not reported as if sound. */
    @Test
    void benchSampleSaysWhenItsSamplesAreNotFinite(@TempDir Path dir) throws Exception {
        Path model = TinyModel.writeDecodingNaN(dir.resolve("broken")), json = dir.resolve("bench.json");
        String said = CliRun.stderrOf(0, "bench", "sample", "--model", model.toString(), "--frames", "2", "--steps", "2", "--warmup", "0",
                "--repeat", "1", "--json", json.toString());
        assertTrue(said.contains("warning: these timings are of broken samples: every decoded value was NaN or infinite"), said);
        assertTrue(Json.mapper().readTree(json.toFile()).get("non_finite_note").asText().startsWith("every decoded value was NaN"));
    }

    @Test
    void benchTrainReportsStepTimeFlopsAndMemory(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("train.json");
        assertEquals(0, Main.run("bench", "train", "--preset", "toy", "--frames", "2", "--steps", "1", "--warmup", "0",
                "--gradient-checkpointing", "--json", json.toString()));
        JsonNode o = Json.mapper().readTree(json.toFile());
        assertTrue(o.get("forward_flops").asLong() > 0 && o.get("peak_bytes").asLong() > 0, o.toString());
        // model FLOPs are the forward and backward products counted as they run: the checkpointed forward's recompute
        // is not model work (else MFU would be 4/3 of the plain run's at the same speed), and a backward that trains
        // fewer weights does less than the 2x forward an assumed 3x would claim
        Path plain = dir.resolve("plain.json"), dragAttention = dir.resolve("drag-attention.json");
        assertEquals(0, Main.run("bench", "train", "--preset", "toy", "--frames", "2", "--steps", "1", "--warmup", "0", "--json", plain.toString()));
        assertEquals(0, Main.run("bench", "train", "--preset", "toy", "--frames", "2", "--steps", "1", "--warmup", "0", "--trainable", "drag-attention",
                "--json", dragAttention.toString()));
        JsonNode p = Json.mapper().readTree(plain.toFile()), d = Json.mapper().readTree(dragAttention.toFile());
        assertEquals(p.get("model_flops_per_step").asLong(), o.get("model_flops_per_step").asLong(), p + "\n" + o);
        assertEquals(p.get("forward_flops").asLong(), d.get("forward_flops").asLong());
        assertTrue(d.get("model_flops_per_step").asLong() < p.get("model_flops_per_step").asLong(), d + "\n" + p);
        for (JsonNode r : new JsonNode[]{o, p, d})
            assertEquals(r.get("forward_flops").asLong() + r.get("backward_flops").asLong(), r.get("model_flops_per_step").asLong(), r.toString());
        assertTrue(o.get("recomputed_flops").asLong() > 0 && p.get("recomputed_flops").asLong() == 0, o + "\n" + p);
        assertEquals("preset toy", o.get("model").asText(), "the JSON names the model, as bench sample's does");
        assertEquals(2, Main.run("bench", "train", "--preset", "toy", "--trainable", "some"));
        // each bad count is refused naming its option
        for (String[] bad : new String[][]{{"--steps", "0", "error: --steps must be >= 1, got 0"}, {"--warmup", "-1", "error: --warmup must be >= 0, got -1"},
                {"--frames", "0", "error: --frames must be 1 to 128, got 0"}})
            assertEquals(bad[2], CliRun.stderrOf(2, "bench", "train", "--preset", "toy", bad[0], bad[1]).strip());
        for (String bench : new String[]{"sample", "train", "gemm", "kernels"})   // sampling's bound: a typo is not a huge allocation
            assertEquals("error: --frames must be 1 to 128, got 100000", CliRun.stderrOf(2, "bench", bench, "--preset", "toy", "--device", "cpu",
                    "--frames", "100000").strip(), bench);
        // fp16, which train runs with loss scaling, is benchmarked so too
        Path f16 = dir.resolve("fp16.json");
        assertEquals(0, Main.run("bench", "train", "--preset", "toy", "--device", "cpu", "--dtype", "fp16", "--frames", "2", "--steps", "1", "--warmup", "0",
                "--json", f16.toString()));
        var f16Report = Json.mapper().readTree(f16.toFile());
        assertEquals("F16", f16Report.get("dtype").asText());
        assertTrue(f16Report.get("skipped_steps").isInt(), "the timed steps loss scaling skipped (no Adam update) are counted");
    }
}
