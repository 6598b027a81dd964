package dev.puppetengine.backend.cuda;

/** A failed CUDA driver, cuBLAS or kernel call; the message names the call (and kernel) and the error. */
public class CudaException extends RuntimeException {
    public CudaException(String message) { super(message); }

    public CudaException(String message, Throwable cause) { super(message, cause); }
}
