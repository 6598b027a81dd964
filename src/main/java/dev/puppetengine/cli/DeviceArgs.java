package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import picocli.CommandLine.Option;

/** Where a command computes and in which precision (a picocli mixin of sampling, training, prepare and the benchmarks). */
public final class DeviceArgs {
    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}). auto is the CPU"
            + " unless JAVA_OPTS=-Dpuppet.cuda.auto=true opts in to cuda where usable (the GPU path is unverified so far).")
    String device;

    @Option(names = "--dtype", defaultValue = "fp32", description = "Weights and compute dtype: fp32, bf16, fp16 (train adds dynamic loss scaling) or fp64 (the CPU reference)"
            + " (default: ${DEFAULT-VALUE}).")
    String dtype;

    Backend backend() { return Devices.select(device); }

    DType dtype() { return dtypeOption("--dtype", dtype); }

    /** The dtype an option names, or a UserError naming the option. */
    public static DType dtypeOption(String option, String value) {
        return UserError.naming(option, () -> DType.parse(value));
    }
}
