package dev.puppetengine.cli;

import dev.puppetengine.eval.DragAMoveSource;
import dev.puppetengine.eval.ExampleSource;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.train.GracefulStop;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine sample-batch: one GIF per input of a directory or of the DragAMove test set; resumable. */
@Command(name = "sample-batch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate a video for every input of a directory or of the DragAMove test set.",
                "Inputs: images, each with a sibling <name>-drags.json (the format of sample --drags), or the DragAMove test examples"
                        + " (input = frame 0 of NNNNN.gif, drags from NNNNN.pkl). Writes OUT/<name>.gif; inputs whose GIF already exists are"
                        + " skipped, so an interrupted batch resumes; a second run on the same OUT is refused while one runs. A bad input is reported by name and the batch goes on; exit code 2 if any failed."
                        + " An output that cannot be written (a full disk) ends the batch, exit code 1: run it again to go on."},
        footer = {"", "Example:", "  ./puppet-engine sample-batch --dragamove ../shared/data/dragamove-test --out out/dm --steps 25"})
final class SampleBatchCommand implements Callable<Integer> {
    /** Held in --out while a run writes there. */
    static final String LOCK = "sample-batch.lock";

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
        // a second run on this --out would sample the same missing videos again: it waits its turn instead
        try (LockFile lock = LockFile.acquire(out.resolve(LOCK), out + ": another sample-batch is writing there; wait for it to end or choose another --out")) {
            List<String> todo = names.stream().filter(n -> !Files.exists(gif(n))).toList();
            int skipped = names.size() - todo.size();
            if (todo.isEmpty()) {
                System.err.printf(Locale.ROOT, "all %d outputs already exist in %s%n", names.size(), out);
                return 0;
            }
            List<BatchRun.Failure> failed;
            try (PuppetMaster pm = sampling.open();
                 GracefulStop note = StopNote.saying(out + " keeps the videos written so far; the same command continues")) {
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
}
