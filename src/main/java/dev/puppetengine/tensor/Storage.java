package dev.puppetengine.tensor;

import dev.puppetengine.backend.Backend;

import java.nio.ByteBuffer;

/**
 * A backend's flat buffer of {@link #numel()} elements of one {@link DType}. Reference counted: every
 * {@link Tensor} handle over it holds one reference, and the memory goes back to the backend when the
 * last one is released. Never left to the garbage collector: device memory is invisible to it.
 */
public abstract class Storage {
    private final Backend backend;
    private final DType dtype;
    private final long numel;
    private int refs = 1;

    protected Storage(Backend backend, DType dtype, long numel) {
        this.backend = backend;
        this.dtype = dtype;
        this.numel = numel;
    }

    public final Backend backend() { return backend; }

    public final DType dtype() { return dtype; }

    public final long numel() { return numel; }

    public final long bytes() { return numel * dtype.bytes(); }

    final synchronized void retain() {
        if (refs <= 0) throw new IllegalStateException("storage already freed");
        refs++;
    }

    final void release() {
        boolean last;
        synchronized (this) {
            if (refs <= 0) throw new IllegalStateException("storage released twice");
            last = --refs == 0;
        }
        if (last) free();
    }

    /** Returns the memory to the backend; called once, when the last reference goes. */
    protected abstract void free();

    /**
     * Copies {@code dst.remaining()} bytes (little-endian elements) starting at element {@code elemOffset}. A host
     * transfer: refused while {@link HostTransfers#forbid} is in force on this thread (e.g. during CUDA graph capture).
     */
    public final void read(long elemOffset, ByteBuffer dst) {
        HostTransfers.check("read", this);
        readBytes(elemOffset, dst);
    }

    /** Copies {@code src.remaining()} bytes (little-endian elements) into this storage at element {@code elemOffset}; a host transfer as {@link #read}. */
    public final void write(long elemOffset, ByteBuffer src) {
        HostTransfers.check("write", this);
        writeBytes(elemOffset, src);
    }

    /** The backend's device-to-host copy behind {@link #read}. */
    protected abstract void readBytes(long elemOffset, ByteBuffer dst);

    /** The backend's host-to-device copy behind {@link #write}. */
    protected abstract void writeBytes(long elemOffset, ByteBuffer src);
}
