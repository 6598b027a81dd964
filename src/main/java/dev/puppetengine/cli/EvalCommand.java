package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.eval.ClipSource;
import dev.puppetengine.eval.DragAMoveSource;
import dev.puppetengine.eval.EvalProgress;
import dev.puppetengine.eval.EvalReport;
import dev.puppetengine.eval.ExampleSource;
import dev.puppetengine.eval.PointTracker;
import dev.puppetengine.eval.Summary;
import dev.puppetengine.eval.VideoScore;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.train.GracefulStop;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** ./puppet-engine eval: sample held-out examples and score them against their ground truth. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sample held-out examples and score each video against its ground truth.",
                "Examples: the validation clips of a clip dataset (index >= its train split) or the DragAMove test set. PSNR and SSIM against"
                        + " the ground-truth frames (resized to the model resolution like the input); drag error: each drag's start point tracked"
                        + " through the generated frames vs the drag's targets (also measured on the ground truth: the tracker's floor).",
                "DragAMove ground truth is the published NNNNN.gif, not the pickle's latents decoded: decoding needs the real SVD VAE, which"
                        + " small models do not have.",
                "Prints a table and mean +- std; definitions and caveats in docs/EVAL.md."},
        footer = {"", "Example:", "  ./puppet-engine eval --clips data/clips --steps 25 --out eval.json"})
final class EvalCommand implements Callable<Integer> {
    static final class Input {
        @Option(names = "--clips", required = true, description = "Clip dataset directory (./puppet-engine dataset); its validation clips are used.")
        Path clips;

        @Option(names = "--dragamove", required = true, description = "Directory of DragAMove test examples (NNNNN.pkl + NNNNN.gif).")
        Path dragamove;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--limit", description = "Only the first N examples.")
    Integer limit;

    @Option(names = "--out", description = "Write the report (settings, summary, per-example and per-frame values) to this JSON file. Also makes the"
            + " run resumable: OUT.partial.jsonl keeps each example's scores as they come; the same command continues after a stop.")
    Path out;

    @Option(names = "--save-gifs", description = "Also write each generated video to DIR/<name>.gif.")
    Path saveGifs;

    @Option(names = "--pickle-conditioning", description = BatchRun.PRECOMPUTED_HELP)
    boolean pickleConditioning;

    @Mixin
    SamplingArgs sampling;

    @Override
    public Integer call() throws Exception {
        BatchRun.requireDragAMove(pickleConditioning, input.dragamove);
        SamplingOptions base = sampling.options(14);
        Path in = input.clips != null ? input.clips : input.dragamove;
        String inOption = input.clips != null ? "--clips" : "--dragamove";
        if (out != null) {   // the report and its OUT.partial.jsonl: anywhere in the folder it could replace a file read (dataset.json, NNNNN.gif)
            OutputPaths.file("--out", out);
            OutputPaths.notInput("--out", out, inOption, in, true);
        }
        if (saveGifs != null) {   // its <name>.gif in a DragAMove folder would replace the ground truth
            OutputPaths.directory("--save-gifs", saveGifs, false);
            OutputPaths.noteLeftoversIn(saveGifs);
            OutputPaths.notInput("--save-gifs", saveGifs, inOption, in, false);
        }
        ExampleSource source = BatchRun.open(() -> input.clips != null ? new ClipSource(input.clips) : new DragAMoveSource(input.dragamove));
        List<String> names = BatchRun.first(source.names(), limit);
        if (names.isEmpty()) throw new UserError(input.clips + ": the dataset has no validation clips (all are in the train split)");
        if (saveGifs != null) Files.createDirectories(saveGifs);
        List<VideoScore> scores = new ArrayList<>();
        List<BatchRun.Failure> failed;
        EvalProgress progress = null;
        ObjectNode header = JsonNodeFactory.instance.objectNode();
        PointTracker tracker;
        long t0 = System.nanoTime();
        try (PuppetMaster pm = sampling.open()) {
            BatchRun.checkPrecomputed(pickleConditioning, pm, source, names);
            tracker = PointTracker.forSide(pm.resolution());
            ModelDirectory.Entry unet = pm.model().manifest.components().get("unet");
            header.put("model", sampling.modelDir().toAbsolutePath().normalize().toString()).put("model_kind", pm.model().manifest.kind()).put("resolution", pm.resolution())
                    .put("unet_sha256", unet == null ? null : unet.sha256());
            header.putObject("data").put("kind", input.clips != null ? "clips" : "dragamove")
                    .put("path", in.toAbsolutePath().normalize().toString()).put("examples", names.size())
                    .put("ground_truth", input.clips != null ? "the clip's frames" : "the GIF's frames (pickle latents not decoded)")
                    .set("identity", source.identity());
            header.putObject("sampling").put("steps", base.steps()).put("guidance_min", base.guidanceMin()).put("guidance_max", base.guidanceMax())
                    .put("seed", base.seed()).put("scale_input", pm.scalesInput(base)).put("device", pm.model().unetWeights().backend().name())
                    .put("dtype", pm.model().unetWeights().dtype().name())
                    .put("conditioning", pickleConditioning ? "the pickle's cond_latent and embedding" : "frame 0 encoded by the model");
            progress = out == null ? null : EvalProgress.open(out, header);
            if (progress != null) progress.requireSameFiles(source);
            Map<String, VideoScore> scored = new LinkedHashMap<>(progress == null ? Map.of() : progress.scored());
            if (!scored.isEmpty())
                System.err.printf(Locale.ROOT, "continuing an unfinished evaluation: %d of %d examples were scored (%s)%n", scored.size(), names.size(), EvalProgress.fileFor(out));
            EvalProgress record = progress;
            try (GracefulStop note = StopNote.saying(out == null ? "nothing was kept (--out makes an evaluation resumable)"
                    : EvalProgress.fileFor(out) + " keeps the scored examples; the same command continues")) {
                failed = BatchRun.run(pm, source, names.stream().filter(n -> !scored.containsKey(n)).toList(), ex -> base.withFrames(ex.groundTruth().size()),
                        pickleConditioning, base.steps(), "evaluating", (ex, r) -> {
                            VideoScore s = VideoScore.measure(ex, r.frames(), tracker);
                            if (saveGifs != null) VideoOutput.write(saveGifs.resolve(ex.name() + ".gif"), VideoOutput.Kind.GIF, r.frames(), ex.drags(), false, VideoOutput.DEMO_FPS);
                            if (record != null)
                                try {
                                    record.add(s);
                                } catch (IOException e) {   // not one example's failure: the run cannot record any, so it stops
                                    throw new UncheckedIOException(EvalProgress.fileFor(out) + ": cannot record scores (" + Main.message(e) + ")", e);
                                }
                            scored.put(ex.name(), s);
                        });
            }
            for (String n : names)
                if (scored.containsKey(n)) scores.add(scored.get(n));
        } finally {
            if (progress != null) progress.close();
        }
        header.put("seconds", (System.nanoTime() - t0) / 1e9);
        print(scores);
        if (out != null) {
            Map<String, String> errors = new LinkedHashMap<>();
            failed.forEach(f -> errors.put(f.name(), f.message()));
            AtomicFile.writeString(out, Json.mapper().writeValueAsString(EvalReport.json(header, tracker, scores, errors)));
            if (failed.isEmpty()) progress.finish();   // else kept: running again retries only the failed examples
            System.err.println("wrote " + out + (failed.isEmpty() ? "" : "; " + EvalProgress.fileFor(out) + " keeps the scored examples:"
                    + " the same command again retries only the failed ones"));
        }
        return BatchRun.report(failed, names.size());
    }

    private static void print(List<VideoScore> scores) {
        System.out.printf(Locale.ROOT, "%-10s %5s %9s %7s %12s %10s %11s %11s%n", "example", "drags", "PSNR dB", "SSIM", "drag err px", "drag norm", "end err px",
                "gt err px");
        for (VideoScore s : scores)
            System.out.printf(Locale.ROOT, "%-10s %5d %9.3f %7.4f %12.3f %10.4f %11.3f %11.3f%n", s.name(), s.drags(), s.meanPsnr(), s.meanSsim(),
                    s.drag().meanPx(), s.drag().meanNormalised(), s.drag().endPx(), s.truthDrag().meanPx());
        System.out.println();
        for (Map.Entry<String, Summary> e : EvalReport.summaries(scores).entrySet())
            System.out.printf(Locale.ROOT, "%-18s %10.4f +- %.4f  (n = %d)%n", e.getKey(), e.getValue().mean(), e.getValue().std(), e.getValue().n());
    }
}
