package dev.puppetengine.io.pickle;

import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A torch storage referenced by a checkpoint: a flat run of {@link #numel()} little-endian elements of one
 * dtype, identified by its key. The bytes stay in the container (the zip entry or the legacy data section)
 * until a tensor over them is read.
 */
public final class TorchStorage {
    /** Reads {@code length} bytes at {@code byteOffset} of this storage's data (already bounds-checked). */
    @FunctionalInterface
    interface Source {
        ByteBuffer read(long byteOffset, int length) throws IOException;
    }

    private final String source;
    private final String key;
    private final DType dtype;
    private final long numel;
    private final Source data;

    TorchStorage(String source, String key, DType dtype, long numel, Source data) {
        this.source = source;
        this.key = key;
        this.dtype = dtype;
        this.numel = numel;
        this.data = data;
    }

    public String key() { return key; }

    /** The file (and stream) this storage came from, for messages. */
    String source() { return source; }

    public DType dtype() { return dtype; }

    public long numel() { return numel; }

    /** Elements [first, first + count) as little-endian bytes. */
    public ByteBuffer read(long first, long count) throws IOException {
        if (first < 0 || count < 0 || first > numel - count)
            throw new PickleException(source, "elements [" + first + ", " + (first + count) + ") outside storage '" + key + "' of " + numel);
        long bytes = count * dtype.bytes();
        if (bytes > Integer.MAX_VALUE)
            throw new PickleException(source, "reading " + bytes + " bytes of storage '" + key + "' at once: over the 2 GiB limit");
        return data.read(first * dtype.bytes(), (int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public String toString() {
        return "TorchStorage(" + key + ", " + dtype + ", " + numel + ")";
    }
}
