package dev.puppetengine.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** ./puppet-engine bench: end-to-end benchmarks (per-hot-path ones are JMH, in src/jmh). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"End-to-end benchmarks (sample, train) and op benchmarks against PyTorch on the same device (gemm, kernels).",
                "Per-kernel / per-op micro-benchmarks are JMH: mvn -Pjmh -DskipTests package; java -jar target/benchmarks.jar"},
        subcommands = {BenchSampleCommand.class, BenchTrainCommand.class, BenchGemmCommand.class, BenchKernelsCommand.class,
                CommandLine.HelpCommand.class})
final class BenchCommand implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
