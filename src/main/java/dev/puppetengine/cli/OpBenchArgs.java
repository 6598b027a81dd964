package dev.puppetengine.cli;

import dev.puppetengine.bench.OpBench;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What bench gemm and bench kernels share (a picocli mixin): timing repeats and the PyTorch side. */
final class OpBenchArgs {
    @Option(names = "--warmup", defaultValue = "3", description = "Untimed calls per case first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iters", defaultValue = "10", description = "Timed calls per case; the median is reported, of an even count the lower middle (default: ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--torch", defaultValue = "auto", paramLabel = "auto|none|PYTHON",
            description = {"Time the same cases in PyTorch with kernels/bench/torch_ops.py, run by this python (default: ${DEFAULT-VALUE}:"
                            + " python3 when it imports torch, and for --device cuda sees a GPU; otherwise the PyTorch columns are skipped, saying why)."})
    String torch;

    @Option(names = "--torch-results", paramLabel = "FILE",
            description = "Merge this torch_ops.py output (from an earlier or separate run over the same cases) instead of running PyTorch.")
    Path torchResults;

    @Option(names = "--ours-results", paramLabel = "FILE",
            description = {"Time nothing: take our side from this earlier --json report (say of a run stopped while PyTorch was timing),"
                            + " merge PyTorch (--torch-results, or the script on its cases), print the table and write --json. Needs no GPU with --torch-results."})
    Path oursResults;

    @Option(names = "--torch-script", paramLabel = "FILE", description = "The PyTorch script (default: kernels/bench/torch_ops.py in the engine's home).")
    Path torchScript;

    /** With --ours-results: finishes that report of {@code command} and returns true (the command then times nothing). */
    boolean finishEarlier(String command, BenchModelArgs bench) throws IOException, InterruptedException {
        if (oursResults == null) return false;
        if (!Files.isRegularFile(oursResults)) throw new UserError("--ours-results: no file at " + oursResults);
        try {
            OpBench.finishEarlier(oursResults, command, options(bench));
        } catch (IllegalArgumentException e) {
            throw new UserError("--ours-results " + Main.message(e));
        }
        return true;
    }

    OpBench.Options options(BenchModelArgs bench) {
        if (warmup < 0) throw new UserError("--warmup must be >= 0, got " + warmup);
        if (iters < 1) throw new UserError("--iters must be >= 1, got " + iters);
        bench.check();
        // checked before anything is timed, not after
        if (torchResults != null && !Files.isRegularFile(torchResults)) throw new UserError("--torch-results: no file at " + torchResults);
        if (torchScript != null && !Files.isRegularFile(torchScript)) throw new UserError("--torch-script: no file at " + torchScript);
        if (!torch.equals("auto") && !torch.equals("none") && torch.contains("/") && !Files.isExecutable(Path.of(torch)))
            throw new UserError("--torch " + torch + ": not an executable file (give a python that imports torch, auto or none)");
        Path script = torchScript != null ? torchScript : EngineHome.home().resolve("kernels").resolve("bench").resolve("torch_ops.py");
        return new OpBench.Options(warmup, iters, torch, torchResults, script, bench.peakTflops, bench.json);
    }
}
