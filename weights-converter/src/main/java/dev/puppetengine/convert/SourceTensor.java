package dev.puppetengine.convert;

import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** One tensor of an input checkpoint as stored (PyTorch layout, its own dtype); its bytes are read only when converted. */
record SourceTensor(Path file, String name, DType dtype, int[] shape, Bytes bytes) {
    @FunctionalInterface
    interface Bytes {
        ByteBuffer read() throws IOException;
    }

    SourceTensor {
        shape = shape.clone();
    }

    @Override
    public int[] shape() { return shape.clone(); }
}
