package dev.puppetengine.cli;

import dev.puppetengine.eval.Example;
import dev.puppetengine.eval.ExampleSource;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import me.tongfei.progressbar.ProgressBar;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Samples the examples of a batch one after another under one progress bar (over all their steps). An
 * example that cannot be read or sampled (bad file, bad drags) is reported with its name and skipped; the
 * caller decides the exit code from the failures. An I/O failure writing an output ends the batch.
 */
final class BatchRun {
    private BatchRun() {}

    /** What to do with one sampled example (write it, score it). */
    @FunctionalInterface
    interface Sink {
        void accept(Example example, PuppetMaster.Result result) throws IOException;
    }

    record Failure(String name, String message) {}

    static final String PRECOMPUTED_HELP = "With --dragamove: condition on each test batch's own cond_latent and CLIP embedding, as the"
            + " reference's test loop does, instead of encoding GIF frame 0 (needs the full-size VAE and image encoder's shapes: a converted model).";

    /** --pickle-conditioning without DragAMove data is refused at once. */
    static void requireDragAMove(boolean wanted, Path dragamove) {
        if (wanted && dragamove == null) throw new UserError("--pickle-conditioning needs --dragamove (only the DragAMove test batches carry conditioning)");
    }

    /**
     * --pickle-conditioning: refused before any sampling when the model cannot take the first readable example's
     * conditioning. Examples that do not load are left to {@link #run}, which reports each by name and goes on.
     */
    static void checkPrecomputed(boolean wanted, PuppetMaster pm, ExampleSource source, List<String> names) {
        if (!wanted) return;
        for (String name : names) {
            Example ex;
            try {
                ex = source.load(name);
            } catch (IOException | IllegalArgumentException | UserError e) {
                continue;
            }
            if (ex.precomputed() == null) continue;
            try {
                pm.checkFits(ex.precomputed());
            } catch (IllegalArgumentException e) {
                throw new UserError("--pickle-conditioning: " + Main.message(e));
            }
            return;
        }
    }

    /** {@code precomputed}: condition on each example's precomputed conditioning (DragAMove's) instead of encoding its image. */
    static List<Failure> run(PuppetMaster pm, ExampleSource source, List<String> names, Function<Example, SamplingOptions> options,
                             boolean precomputed, int steps, String task, Sink sink) throws IOException {
        List<Failure> failed = new ArrayList<>();
        try (ProgressBar bar = ProgressBars.of(task, (long) names.size() * steps, " steps")) {
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i);
                long base = (long) i * steps;
                bar.setExtraMessage(" " + name + " (" + (i + 1) + "/" + names.size() + ")");
                Example ex;
                PuppetMaster.Result r;
                try {
                    ex = source.load(name);
                    if (precomputed && ex.precomputed() == null) throw new UserError("no precomputed conditioning in this example");
                    r = pm.sample(ex.image(), precomputed ? ex.precomputed() : null, ex.drags(), options.apply(ex),
                            (done, total) -> bar.stepTo(base + done));
                    if (r.blank()) throw new UserError(r.nonFiniteNote());   // a black video is a failed example, not a result
                    if (r.nonFinite() > 0) ProgressBars.println("warning: " + name + ": " + r.nonFiniteNote());
                } catch (IOException | IllegalArgumentException | UserError e) {
                    if (StopNote.unwinding(e)) throw e;   // a signal's stop, not this example's failure
                    fail(failed, name, e);
                    bar.stepTo(base + steps);
                    continue;
                }
                // an output that cannot be written (disk full, read-only) fails every example alike: the batch stops, what was written stays
                try {
                    sink.accept(ex, r);
                } catch (IllegalArgumentException | UserError e) {
                    fail(failed, name, e);
                }
                bar.stepTo(base + steps);
            }
        }
        return failed;
    }

    private static void fail(List<Failure> failed, String name, Exception e) {
        failed.add(new Failure(name, Main.message(e)));
        ProgressBars.println("error: " + name + ": " + Main.message(e));
    }

    /** Opens an example source; an input that cannot be opened (missing directory, not a dataset) is the user's error. */
    static ExampleSource open(SourceOpener opener) {
        try {
            return opener.open();
        } catch (IOException e) {
            throw new UserError(Main.message(e));
        }
    }

    @FunctionalInterface
    interface SourceOpener {
        ExampleSource open() throws IOException;
    }

    /** The first {@code limit} names (all when null). */
    static List<String> first(List<String> names, Integer limit) {
        if (limit == null) return names;
        if (limit < 1) throw new UserError("--limit must be >= 1, got " + limit);
        return names.subList(0, Math.min(limit, names.size()));
    }

    /** Prints the failures and returns the exit code: 0, or 2 when any example failed. */
    static int report(List<Failure> failed, int total) {
        if (failed.isEmpty()) return 0;
        System.err.println("error: " + failed.size() + " of " + total + " inputs failed:");
        for (Failure f : failed) System.err.println("  " + f.name() + ": " + f.message());
        return 2;
    }
}
