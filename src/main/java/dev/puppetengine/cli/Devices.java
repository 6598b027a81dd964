package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.Backends;

/** --device: cpu, cuda or auto (see Backends.select). */
final class Devices {
    private Devices() {}

    static Backend select(String name) {
        switch (name) {
            case "cpu":
            case "cuda":
            case "auto":
                try {
                    return Backends.select(name);
                } catch (Backends.DeviceUnavailableException e) {
                    throw new EnvironmentError("--device cuda: " + Main.message(e) + " (--device cpu or auto runs without a GPU)", e);
                }
            default:
                throw new UserError("--device: unknown device '" + name + "' (expected cpu, cuda or auto)");
        }
    }
}
