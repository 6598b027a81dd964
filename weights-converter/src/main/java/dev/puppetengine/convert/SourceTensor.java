package dev.puppetengine.convert;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

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

    /**
     * The stored values converted to {@code to}, on the CPU; integer tensors are refused. A NaN or an infinity is refused naming the file, the tensor and the
     * element, and so is a value beyond the range of {@code to} (above 65504 for F16): written, either gives a model that
     * samples NaN videos, named nowhere. One pass over each side, once per conversion.
     */
    Tensor read(DType to) throws IOException {
        if (!dtype.isFloating()) throw new InputFileException(file + ": tensor " + name + " is " + dtype + ", expected a floating type");
        ByteBuffer raw = bytes.read();
        String bad = TensorBytes.nonFinite(raw, dtype);
        if (bad != null) throw new InputFileException(file + ": tensor " + name + " is not finite (" + bad + "): the file is damaged");
        Tensor t = TensorBytes.upload(CpuBackend.get(), raw, dtype, shape, to);
        if (to != dtype && (bad = TensorBytes.nonFinite(t.toBytes(), to)) != null) {
            t.close();
            throw new InputFileException(file + ": tensor " + name + " has values beyond the range of " + to + " (" + bad
                    + " once converted): choose another --dtype (bf16 keeps fp32's range)");
        }
        return t;
    }
}
