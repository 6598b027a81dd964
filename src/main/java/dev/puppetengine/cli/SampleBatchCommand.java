package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.eval.DragAMoveSource;
import dev.puppetengine.eval.ExampleSource;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.train.GracefulStop;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine sample-batch: one GIF per input of a directory or of the DragAMove test set; resumable. */
@Command(name = "sample-batch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate a video for every input of a directory or of the DragAMove test set.",
                "Inputs: images, each with a sibling <name>-drags.json (the format of sample --drags), or the DragAMove test examples"
                        + " (input = frame 0 of NNNNN.gif, drags from NNNNN.pkl). Writes OUT/<name>.gif; inputs whose GIF already exists are"
                        + " skipped, so an interrupted batch resumes (OUT/sample-batch.json records the settings: a run under other settings is"
                        + " refused while videos of the first are there); a second run on the same OUT is refused while one runs. A bad input is reported by name and the batch goes on; exit code 2 if any failed."
                        + " An output that cannot be written (a full disk) ends the batch, exit code 1: run it again to go on."},
        footer = {"", "Example:", "  ./puppet-engine sample-batch --dragamove ../shared/data/dragamove-test --out out/dm --steps 25"})
final class SampleBatchCommand implements Callable<Integer> {
    /** Held in --out while a run writes there. */
    static final String LOCK = "sample-batch.lock";
    /** What the videos in --out were sampled with. */
    static final String SETTINGS = "sample-batch.json";

    static final class Input {
        @Option(names = "--dir", required = true, description = "Directory of images (PNG, JPEG, BMP, TIFF, GIF), each with <name>-drags.json; hidden files (.name) are left out.")
        Path dir;

        @Option(names = "--dragamove", required = true, description = "Directory of DragAMove test examples (NNNNN.pkl + NNNNN.gif).")
        Path dragamove;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--out", required = true, description = "Output directory (created); one <name>.gif per input.")
    Path out;

    @Option(names = "--limit", description = "Only the first N inputs (by name).")
    Integer limit;

    @Option(names = "--auto-orient", description = InputImages.AUTO_ORIENT_HELP + " With --dir only.")
    boolean autoOrient;

    @Option(names = "--pickle-conditioning", description = BatchRun.PRECOMPUTED_HELP)
    boolean pickleConditioning;

    @Mixin
    SamplingArgs sampling;

    @Mixin
    VideoArgs video;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        video.check();
        BatchRun.requireDragAMove(pickleConditioning, input.dragamove);
        OutputPaths.directory("--out", out, false);
        OutputPaths.noteLeftoversIn(out);
        Path in = input.dir != null ? input.dir : input.dragamove;   // its GIFs are inputs (DragAMove's: the ground truth, named as outputs)
        OutputPaths.notInput("--out", out, input.dir != null ? "--dir" : "--dragamove", in, false);
        if (input.dragamove != null && autoOrient) throw new UserError("--auto-orient applies to --dir: DragAMove's inputs are GIF frames, which have no orientation");
        if (input.dragamove != null && spec.commandLine().getParseResult().hasMatchedOption("--frames"))
            throw new UserError("--frames does not apply to --dragamove: each example has as many frames as its drags");
        SamplingOptions opts = sampling.options(video.frames);
        ExampleSource source = BatchRun.open(() -> input.dir != null ? new ImageDirSource(input.dir, video.frames, autoOrient) : new DragAMoveSource(input.dragamove));
        List<String> names = BatchRun.first(source.names(), limit);
        JsonNode settings = settings(opts, in);   // reads the model's manifest: a bad --model refused before --out is made
        // a second run on this --out would sample the same missing videos again: it waits its turn instead
        // the stop before the lock: a signal's interrupt unwinds the GIF being written and releases the lock before the JVM exits
        try (GracefulStop note = StopNote.saying(out + " keeps the videos written so far; the same command continues");
             LockFile lock = LockFile.acquire(out.resolve(LOCK), out + ": another sample-batch is writing there; wait for it to end or choose another --out")) {
            List<String> todo = new ArrayList<>();
            for (String n : names) if (!done(n)) todo.add(n);
            int skipped = names.size() - todo.size();
            requireSameSettings(settings, skipped);
            if (todo.isEmpty()) {
                System.err.printf(Locale.ROOT, "all %d outputs already exist in %s%n", names.size(), out);
                return 0;
            }
            List<BatchRun.Failure> failed;
            try (PuppetMaster pm = sampling.open()) {
                BatchRun.checkPrecomputed(pickleConditioning, pm, source, todo);
                failed = BatchRun.run(pm, source, todo, ex -> input.dragamove != null ? opts.withFrames(ex.groundTruth().size()) : opts,
                        pickleConditioning, opts.steps(), "sampling",
                        (ex, r) -> video.write(gif(ex.name()), VideoOutput.Kind.GIF, r.frames(), ex.drags()));
            }
            System.err.printf(Locale.ROOT, "%s: %d written, %d skipped (already there), %d failed%n", out, todo.size() - failed.size(), skipped, failed.size());
            return BatchRun.report(failed, todo.size());
        }
    }

    private Path gif(String name) {
        return out.resolve(name + ".gif");
    }

    /** A video written (whole: writes are atomic); an empty file or a folder of that name is none. */
    private boolean done(String name) throws IOException {
        Path g = gif(name);
        return Files.isRegularFile(g) && Files.size(g) > 0;
    }

    /** What shapes the videos: the model, the inputs, the sampling and video options (not the device, nor --limit). */
    private JsonNode settings(SamplingOptions opts, Path in) throws IOException {
        Path dir = sampling.modelDir();
        ModelDirectory.Entry unet = SamplingArgs.fromModel(dir, () -> ModelDirectory.read(dir)).components().get("unet");
        ObjectNode s = JsonNodeFactory.instance.objectNode();
        s.put("model", dir.toAbsolutePath().normalize().toString()).put("unet_sha256", unet == null ? null : unet.sha256());
        s.putObject("input").put("kind", input.dir != null ? "dir" : "dragamove").put("path", in.toAbsolutePath().normalize().toString());
        ObjectNode sm = s.putObject("sampling").put("steps", opts.steps()).put("guidance_min", opts.guidanceMin()).put("guidance_max", opts.guidanceMax())
                .put("seed", opts.seed()).put("unscaled_input", sampling.unscaledInput).put("dtype", sampling.target.dtype().name())
                .put("conditioning", pickleConditioning ? "pickle" : "model");
        if (input.dir != null) sm.put("frames", opts.frames()).put("auto_orient", autoOrient);   // DragAMove: each example's own count
        s.putObject("video").put("overlay", video.overlay).put("fps", video.fps);
        return Json.asRead(s);
    }

    /**
     * Refuses to add videos of other settings to the {@code done} ones in --out (a set that mixes two is no set: a resume
     * with another --steps said "already exist" and kept the old ones), then records these settings.
     */
    private void requireSameSettings(JsonNode now, int done) throws IOException {
        Path file = out.resolve(SETTINGS);
        if (Files.isRegularFile(file)) {
            JsonNode was = Json.read(file);
            List<String> diff = Json.differences("", was, now);
            if (diff.isEmpty()) return;
            if (done > 0)
                throw new UserError("--out " + out + " holds " + done + " of these videos, sampled with other settings (" + String.join(", ", diff)
                        + "); choose another --out, or remove those videos to sample them anew");
        } else if (done > 0) {
            System.err.println("note: " + out + " holds " + done + " of these videos and no record of their settings (" + SETTINGS
                    + ", written since 2026-12-07): they are taken as done");
        }
        AtomicFile.writeBytes(file, Json.bytes(now));
    }
}
