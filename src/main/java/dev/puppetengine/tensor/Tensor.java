package dev.puppetengine.tensor;

import dev.puppetengine.backend.Backend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An n-dimensional view (shape, strides, offset in elements) over a backend {@link Storage}. A Tensor is a
 * handle: views share the storage and each handle holds one reference, released by {@link #close()} (or by
 * the {@link Scope} it was created in). Views here are raw (not differentiable); the differentiable
 * operations, views included, are in {@code dev.puppetengine.autograd.F}.
 *
 * <p>Activations are channels-last throughout the engine: (N, H, W, C), (B, F, H, W, C), tokens (N, L, C).
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final int[] shape;
    private final long[] strides;
    private final long offset;
    Scope owner;
    private boolean closed;

    // Autograd slots: set and interpreted only by dev.puppetengine.autograd.
    private boolean requiresGrad;
    private Tensor grad;
    private GradFn gradFn;

    private Tensor(Storage storage, int[] shape, long[] strides, long offset) {
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        Scope s = Scope.current();
        if (s != null) s.register(this);
    }

    /** Wraps a freshly allocated storage (taking over its initial reference) as a contiguous tensor. */
    public static Tensor wrap(Storage fresh, int... shape) {
        if (Shape.numel(shape) != fresh.numel())
            throw new IllegalArgumentException("shape " + Shape.str(shape) + " does not match storage of " + fresh.numel() + " elements");
        return new Tensor(fresh, shape.clone(), Shape.contiguousStrides(shape), 0);
    }

    /** A view over this tensor's storage (retains it). Bounds are checked against the storage. */
    public Tensor view(int[] shape, long[] strides, long offset) {
        checkOpen();
        if (shape.length != strides.length) throw new IllegalArgumentException("shape/stride rank mismatch");
        long lo = offset, hi = offset;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 0) { lo = 0; hi = -1; break; }
            long ext = (long) (shape[i] - 1) * strides[i];
            if (ext < 0) lo += ext; else hi += ext;
        }
        if (hi >= lo && (lo < 0 || hi >= storage.numel()))
            throw new IndexOutOfBoundsException("view " + Shape.str(shape) + " strides " + Arrays.toString(strides) + " offset " + offset
                    + " exceeds storage of " + storage.numel() + " elements");
        storage.retain();
        return new Tensor(storage, shape.clone(), strides.clone(), offset);
    }

    // ---- metadata -----------------------------------------------------------------------------------

    public Storage storage() { checkOpen(); return storage; }

    public Backend backend() { return storage.backend(); }

    public DType dtype() { return storage.dtype(); }

    public int[] shape() { return shape.clone(); }

    public long[] strides() { return strides.clone(); }

    public long offset() { return offset; }

    public int dim() { return shape.length; }

    public int size(int d) { return shape[Shape.dim(d, shape.length)]; }

    public long stride(int d) { return strides[Shape.dim(d, shape.length)]; }

    public long numel() { return Shape.numel(shape); }

    public boolean isClosed() { return closed; }

    public Scope owner() { return owner; }

    public boolean isContiguous() {
        long expect = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expect) return false;
            expect *= shape[i];
        }
        return true;
    }

    public boolean sameShape(Tensor o) { return Arrays.equals(shape, o.shape); }

    // ---- raw views ----------------------------------------------------------------------------------

    /** A new handle to the same view (the caller owns it). */
    public Tensor alias() { return view(shape, strides, offset); }

    /** Same elements in a new shape (one dimension may be -1). A view when strides allow, else a copy. */
    public Tensor reshape(int... newShape) {
        int[] ns = Shape.infer(newShape, numel());
        long[] st = viewStrides(ns);
        if (st != null) return view(ns, st, offset);
        try (Tensor c = contiguous()) {
            return c.reshape(ns);
        }
    }

    /** Strides for viewing this tensor as {@code ns} without copying, or null (torch's computeStride). */
    private long[] viewStrides(int[] ns) {
        if (isContiguous()) return Shape.contiguousStrides(ns);
        long[] out = new long[ns.length];
        int viewD = ns.length - 1;
        long chunkBase = strides.length > 0 ? strides[strides.length - 1] : 1;
        long tensorNumel = 1, viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBase)) {
                while (viewD >= 0 && (viewNumel < tensorNumel || ns[viewD] == 1)) {
                    out[viewD] = viewNumel * chunkBase;
                    viewNumel *= ns[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0) {
                    chunkBase = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? out : null;
    }

    public Tensor permute(int... order) {
        if (order.length != shape.length) throw new IllegalArgumentException("permute needs " + shape.length + " dims, got " + order.length);
        int[] ns = new int[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int o = Shape.dim(order[i], shape.length);
            if (seen[o]) throw new IllegalArgumentException("permute order repeats dimension " + o);
            seen[o] = true;
            ns[i] = shape[o];
            st[i] = strides[o];
        }
        return view(ns, st, offset);
    }

    public Tensor transpose(int a, int b) {
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        a = Shape.dim(a, shape.length);
        b = Shape.dim(b, shape.length);
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** Elements [start, start+length) along {@code d}. */
    public Tensor narrow(int d, int start, int length) {
        d = Shape.dim(d, shape.length);
        if (start < 0 || length < 0 || start + length > shape[d])
            throw new IndexOutOfBoundsException("narrow(" + d + ", " + start + ", " + length + ") of shape " + Shape.str(shape));
        int[] ns = shape.clone();
        ns[d] = length;
        return view(ns, strides, offset + start * strides[d]);
    }

    /** Broadcasts size-1 dimensions (and new leading ones) to {@code target} with stride 0; -1 keeps a size. */
    public Tensor expand(int... target) {
        if (target.length < shape.length) throw new IllegalArgumentException("expand to fewer dims: " + Shape.str(shape) + " -> " + Shape.str(target));
        int lead = target.length - shape.length;
        int[] ns = new int[target.length];
        long[] st = new long[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) {
                if (target[i] < 0) throw new IllegalArgumentException("-1 not allowed for a new dimension");
                ns[i] = target[i];
                st[i] = 0;
            } else {
                int s = shape[i - lead];
                int t = target[i] == -1 ? s : target[i];
                if (s == t) { ns[i] = s; st[i] = strides[i - lead]; }
                else if (s == 1) { ns[i] = t; st[i] = 0; }
                else throw new IllegalArgumentException("cannot expand " + Shape.str(shape) + " to " + Shape.str(target));
            }
        }
        return view(ns, st, offset);
    }

    /** A contiguous handle: an alias when already contiguous, else a copy. */
    public Tensor contiguous() {
        return isContiguous() ? alias() : backend().copy(this, dtype());
    }

    /** A contiguous copy in another dtype (an alias when already contiguous in that dtype). */
    public Tensor to(DType t) {
        return t == dtype() && isContiguous() ? alias() : backend().copy(this, t);
    }

    /** A contiguous copy on another backend, same dtype (bit-exact). */
    public Tensor to(Backend other) {
        if (other == backend()) return contiguous();
        try (Tensor c = contiguous()) {
            ByteBuffer buf = ByteBuffer.allocateDirect(Math.toIntExact(c.numel() * dtype().bytes())).order(ByteOrder.LITTLE_ENDIAN);
            c.storage.read(c.offset, buf);
            buf.flip();
            Tensor out = other.empty(dtype(), shape);
            out.storage.write(0, buf);
            return out;
        }
    }

    // ---- host access --------------------------------------------------------------------------------

    /** Little-endian bytes of the elements in logical (row-major) order. */
    public ByteBuffer toBytes() {
        try (Tensor c = contiguous()) {
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(c.numel() * dtype().bytes())).order(ByteOrder.LITTLE_ENDIAN);
            c.storage.read(c.offset, buf);
            return buf.flip();
        }
    }

    public double[] toDoubleArray() {
        return HostData.decode(toBytes(), dtype(), Shape.numelInt(shape));
    }

    public float[] toFloatArray() {
        double[] d = toDoubleArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** The single value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() of a tensor with " + numel() + " elements");
        return toDoubleArray()[0];
    }

    /** Overwrites this (contiguous) tensor's elements from host values, rounding to its dtype. */
    public Tensor copyFrom(double[] values) {
        if (!isContiguous()) throw new IllegalStateException("copyFrom needs a contiguous tensor");
        if (values.length != numel()) throw new IllegalArgumentException("expected " + numel() + " values, got " + values.length);
        storage.write(offset, HostData.encode(values, dtype()));
        return this;
    }

    // ---- factories (through a backend) --------------------------------------------------------------

    public static Tensor of(Backend b, DType t, int[] shape, double... values) {
        return b.empty(t, shape).copyFrom(values);
    }

    public static Tensor of(Backend b, DType t, int[] shape, float... values) {
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) d[i] = values[i];
        return of(b, t, shape, d);
    }

    public static Tensor zeros(Backend b, DType t, int... shape) {
        return full(b, t, 0, shape);
    }

    public static Tensor full(Backend b, DType t, double v, int... shape) {
        Tensor x = b.empty(t, shape);
        b.fill(x, v);
        return x;
    }

    // ---- autograd slots -----------------------------------------------------------------------------

    public boolean requiresGrad() { return requiresGrad; }

    public void setRequiresGrad(boolean r) { this.requiresGrad = r; }

    public Tensor grad() { return grad; }

    public void setGrad(Tensor g) { this.grad = g; }

    public GradFn gradFn() { return gradFn; }

    public void setGradFn(GradFn f) { this.gradFn = f; }

    // ---- lifetime -----------------------------------------------------------------------------------

    /** Moves this handle's ownership to {@code target} (null: unowned, the caller must close it). */
    public Tensor moveTo(Scope target) {
        if (owner == target) return this;
        if (owner != null) owner.forget(this);
        owner = null;
        if (target != null) target.register(this);
        return this;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("tensor " + Shape.str(shape) + " " + dtype() + " used after close");
    }

    /** Releases this handle's reference (idempotent). Does not close the gradient. */
    @Override
    public void close() {
        if (closed) return;
        if (owner != null) {
            if (!owner.isClosed()) owner.forget(this);   // refused from another thread: before anything changes
            owner = null;
        }
        closed = true;
        storage.release();
    }

    @Override
    public String toString() {
        return "Tensor" + Shape.str(shape) + " " + dtype() + " on " + backend().name() + (closed ? " (closed)" : "");
    }
}
