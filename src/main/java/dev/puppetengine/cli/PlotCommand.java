package dev.puppetengine.cli;

import dev.puppetengine.train.LossPlot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine plot: the loss curve of a (running or finished) training run as a PNG. */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Plot the loss curve of a training run (RUN/log.jsonl) as a PNG; works while the run is still going.")
final class PlotCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN", description = "Run directory (or a log.jsonl file).")
    Path run;

    @Option(names = "--out", description = "PNG to write, named *.png (default: RUN/loss.png).")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path log = Files.isDirectory(run) ? run.resolve("log.jsonl") : run;
        if (!Files.isRegularFile(log)) throw new UserError(log + ": no such training log (expected a run directory with log.jsonl)");
        Path png = out != null ? out : log.resolveSibling("loss.png");
        OutputPaths.file("--out", png);
        OutputPaths.notInput("--out", png, "log", log, false);   // a PNG over log.jsonl: the run could not resume
        if (!png.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png"))   // as sample refuses a name its format does not have
            throw new UserError("--out " + png + ": plot writes a PNG; give a file name ending in .png");
        if (LossPlot.read(log).isEmpty())   // before creating --out's folders: a refused plot leaves nothing behind
            throw new UserError(log + ": no step with a finite loss (expected the JSON lines a training run writes, each with \"step\" and \"loss\")");
        int n = LossPlot.write(log, png);
        System.err.printf(Locale.ROOT, "wrote %s (%d step%s)%n", png, n, n == 1 ? "" : "s");
        return 0;
    }
}
