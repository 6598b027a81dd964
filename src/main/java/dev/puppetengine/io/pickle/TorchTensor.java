package dev.puppetengine.io.pickle;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor as a torch checkpoint describes it: a view (storage offset, shape, strides in elements) over a
 * {@link TorchStorage}. Validated on construction so the view never reaches outside its storage.
 */
public final class TorchTensor {
    private final TorchStorage storage;
    private final long offset;
    private final int[] shape;
    private final long[] strides;
    private final boolean requiresGrad;

    private TorchTensor(TorchStorage storage, long offset, int[] shape, long[] strides, boolean requiresGrad) {
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        this.requiresGrad = requiresGrad;
    }

    /** Checks a view against its storage; {@code source} names the file in errors. */
    static TorchTensor of(String source, TorchStorage storage, long offset, int[] shape, long[] strides, boolean requiresGrad)
            throws PickleException {
        String what = "tensor " + Shape.str(shape) + " strides " + Arrays.toString(strides) + " offset " + offset + " over " + storage;
        if (shape.length != strides.length) throw new PickleException(source, what + ": shape and strides differ in rank");
        if (offset < 0) throw new PickleException(source, what + ": negative storage offset");
        // every dimension, before an empty one ends the extent check: a negative size past it would reach numel() unchecked
        for (int i = 0; i < shape.length; i++)
            if (shape[i] < 0 || strides[i] < 0) throw new PickleException(source, what + ": negative size or stride");
        long last = offset;
        try {
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] == 0) return new TorchTensor(storage, offset, shape, strides, requiresGrad);
                last = Math.addExact(last, Math.multiplyExact(shape[i] - 1L, strides[i]));
            }
            Shape.numel(shape);   // a view (stride 0) may span little storage yet count more elements than 64 bits hold
        } catch (ArithmeticException e) {
            throw new PickleException(source, what + ": element count or extent overflows 64 bits");
        }
        if (last >= storage.numel()) throw new PickleException(source, what + ": reaches element " + last + " beyond the storage");
        return new TorchTensor(storage, offset, shape, strides, requiresGrad);
    }

    TorchTensor withRequiresGrad(boolean r) {
        return new TorchTensor(storage, offset, shape, strides, r);
    }

    public TorchStorage storage() { return storage; }

    public DType dtype() { return storage.dtype(); }

    public int[] shape() { return shape.clone(); }

    public long[] strides() { return strides.clone(); }

    public long storageOffset() { return offset; }

    public boolean requiresGrad() { return requiresGrad; }

    public long numel() { return Shape.numel(shape); }

    /** The elements in logical (row-major) order as little-endian bytes of {@link #dtype()}. */
    public ByteBuffer toBytes() throws IOException {
        long n = numel();
        if (n == 0) return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        long span = 1;
        for (int i = 0; i < shape.length; i++) span += (shape[i] - 1L) * strides[i];
        if (n * dtype().bytes() > Integer.MAX_VALUE - 8)   // the largest array a JVM allocates; stride-0 views can be far larger than their storage
            throw new PickleException(storage.source(), this + " is over the 2 GiB limit of one host buffer");
        ByteBuffer raw = storage.read(offset, span);
        return isContiguous() ? raw : gather(raw, n);
    }

    /** A new contiguous engine tensor in the stored dtype (owned by the current scope, if any). */
    public Tensor toTensor(Backend backend) throws IOException {
        return toTensor(backend, dtype());
    }

    /** A new contiguous engine tensor converted to {@code to} (floating types only; exact, round to nearest even). */
    public Tensor toTensor(Backend backend, DType to) throws IOException {
        if (!TensorBytes.canConvert(dtype(), to)) throw new IllegalArgumentException("cannot convert a " + dtype() + " tensor to " + to);
        return TensorBytes.upload(backend, toBytes(), dtype(), shape, to);
    }

    private boolean isContiguous() {
        long[] c = Shape.contiguousStrides(shape);
        for (int i = 0; i < shape.length; i++) if (shape[i] != 1 && strides[i] != c[i]) return false;
        return true;
    }

    /** Copies a strided view out of {@code raw} (which starts at the view's first element), element by element. */
    private ByteBuffer gather(ByteBuffer raw, long n) {
        int es = dtype().bytes();
        byte[] out = new byte[(int) (n * es)];
        int[] idx = new int[shape.length];
        long pos = 0;
        for (int k = 0; k < n; k++) {
            raw.get((int) (pos * es), out, k * es, es);
            for (int d = shape.length - 1; d >= 0; d--) {   // odometer increment
                pos += strides[d];
                if (++idx[d] < shape[d]) break;
                pos -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
        return ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public String toString() {
        return "TorchTensor" + Shape.str(shape) + " " + dtype() + (requiresGrad ? " requires_grad" : "");
    }
}
