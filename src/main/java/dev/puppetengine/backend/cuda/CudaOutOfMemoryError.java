package dev.puppetengine.backend.cuda;

/** Device memory exhausted even after the allocator released its cache; the message says what to try. */
public final class CudaOutOfMemoryError extends CudaException {
    public CudaOutOfMemoryError(String message) { super(message); }
}
