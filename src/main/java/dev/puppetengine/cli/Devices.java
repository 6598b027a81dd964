package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;

/** --device: cpu, cuda or auto. */
final class Devices {
    private Devices() {}

    static Backend select(String name) {
        switch (name) {
            case "cpu":
            case "auto":
                return CpuBackend.get();
            case "cuda":
                throw new UserError("--device cuda: this build has no CUDA backend yet; use --device cpu");
            default:
                throw new UserError("unknown device '" + name + "' (expected cpu, cuda or auto)");
        }
    }
}
