package dev.puppetengine.cli;

import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.data.synthetic.GeneratorConfig;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine dataset: the synthetic part-motion clips (drawers, hinges, tails, several objects). */
@Command(name = "dataset", mixinStandardHelpOptions = true,
        description = {"Generate the synthetic part-motion clip dataset (PNG frames + drags.json per clip; last 10%% = validation).",
                "Resumable: re-running with the same settings completes an interrupted dataset."})
final class DatasetCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Dataset directory.")
    Path out;

    @Option(names = "--count", defaultValue = "2000", description = "Clips; the last 10%% (rounded) are validation, none below 5 (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--size", defaultValue = "64", description = "Frame side in pixels, 32 to 4096 (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--frames", defaultValue = "14", description = "Frames per clip, at least 2 (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--seed", defaultValue = "1", description = "Dataset seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (count < 1) throw new UserError("--count must be >= 1");
        GeneratorConfig cfg;
        try {
            cfg = GeneratorConfig.defaults(size, frames);
        } catch (IllegalArgumentException e) {   // named as the options, before the bar starts
            throw new UserError("--size " + size + ", --frames " + frames + ": " + e.getMessage());
        }
        OutputPaths.directory("--out", out, false);
        SyntheticDataset.Result r;
        // opened before the bar: a dataset of other settings is refused first, and the bar starts at the clips already
        // complete (kept in moments: counted from 0, they would make its speed and ETA wrong)
        try (GracefulStop note = StopNote.saying(out + " keeps its complete clips; the same command continues");
             SyntheticDataset ds = SyntheticDataset.open(out, count, seed, cfg);
             ProgressBar bar = ProgressBars.of("clips", count, null, ds.complete())) {
            r = ds.generate((done, total) -> bar.stepTo(done));
        }
        System.err.printf(Locale.ROOT, "%s: %d clips written, %d already complete%n", out, r.written(), r.skipped());
        return 0;
    }
}
