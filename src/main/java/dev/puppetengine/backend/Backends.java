package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;

/**
 * Picks the backend for a device name: "cpu", "cuda", or "auto". Until the CUDA backend has passed the op
 * harness on a GPU (docs/CUDA.md: it has never run on one yet), "auto" means the CPU unless
 * {@code -Dpuppet.cuda.auto=true} opts in to "cuda when usable, else cpu"; an explicit "cuda" always tries it.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    private Backends() {}

    /** Thrown for an explicit "cuda" request that cannot be met; the message says why and what to do. */
    public static final class DeviceUnavailableException extends RuntimeException {
        private final CudaUnavailableException.Reason reason;

        DeviceUnavailableException(CudaUnavailableException cause) {
            super("CUDA requested but unusable: " + cause.getMessage(), cause);
            this.reason = cause.reason();
        }

        public CudaUnavailableException.Reason reason() { return reason; }
    }

    /** The backend for {@code name}, in any case (as dtypes are parsed). */
    public static Backend select(String name) {
        if (name == null) throw new IllegalArgumentException("device is null (expected cpu, cuda or auto)");
        switch (name.toLowerCase(Locale.ROOT)) {
            case "cpu":
                return CpuBackend.get();
            case "cuda":
                try {
                    return CudaBackend.get();
                } catch (CudaUnavailableException e) {
                    throw new DeviceUnavailableException(e);
                }
            case "auto":
                if (!Boolean.getBoolean("puppet.cuda.auto")) return CpuBackend.get();   // opt in while the GPU path is unverified
                try {
                    return CudaBackend.get();
                } catch (CudaUnavailableException e) {
                    LOG.info("no usable CUDA ({}); running on the CPU", e.getMessage());
                    return CpuBackend.get();
                }
            default:
                throw new IllegalArgumentException("unknown device '" + name + "' (expected cpu, cuda or auto)");
        }
    }

    /** Why CUDA is unusable here, or null when it is usable. */
    public static String cudaUnavailableReason() {
        try {
            CudaBackend.get();
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }
}
