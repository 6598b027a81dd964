package dev.puppetengine.backend.cuda;

/** CUDA cannot run on this machine; {@link #reason()} says which precondition failed. */
public final class CudaUnavailableException extends Exception {
    /** Why: the driver library is missing, no device, the driver is too old, the GPU is too old, or kernels are absent. */
    public enum Reason { LIBCUDA_MISSING, NO_DEVICE, DRIVER_TOO_OLD, GPU_TOO_OLD, KERNELS_MISSING, INIT_FAILED }

    private final Reason reason;

    public CudaUnavailableException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() { return reason; }
}
