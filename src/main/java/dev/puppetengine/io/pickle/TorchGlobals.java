package dev.puppetengine.io.pickle;

import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The allow list: the only globals a checkpoint may name, each emulated here in Java (nothing is ever
 * imported or executed). Any other global, e.g. {@code os.system} or {@code builtins.eval}, is an error
 * naming the global and the file.
 */
final class TorchGlobals implements Globals {
    /** A torch storage class named inside a persistent id (it is never called). */
    record StorageType(DType dtype) {}

    private static final Map<String, DType> STORAGE_TYPES = Map.of(
            "DoubleStorage", DType.F64, "FloatStorage", DType.F32, "HalfStorage", DType.F16, "BFloat16Storage", DType.BF16,
            "LongStorage", DType.I64, "IntStorage", DType.I32, "ByteStorage", DType.U8, "BoolStorage", DType.BOOL);

    private final String source;
    private final boolean embeddedLegacy;

    /**
     * @param embeddedLegacy whether {@code torch.storage._load_from_bytes} (a legacy torch.save stream inside
     *                       the pickle, as DragAMove batches store tensors) is allowed; never inside that stream
     *                       itself, so nesting cannot recurse
     */
    TorchGlobals(String source, boolean embeddedLegacy) {
        this.source = source;
        this.embeddedLegacy = embeddedLegacy;
    }

    @Override
    public Object find(String module, String name) throws PickleException {
        switch (module + "." + name) {
            case "torch._utils._rebuild_tensor_v2": return (PickleCallable) this::rebuildTensor;
            case "torch._utils._rebuild_parameter": return (PickleCallable) this::rebuildParameter;
            case "collections.OrderedDict": return (PickleCallable) this::orderedDict;
            case "numpy.dtype": return (PickleCallable) args -> NumpyScalars.dtype(source, args);
            case "numpy.core.multiarray.scalar":
            case "numpy._core.multiarray.scalar": return (PickleCallable) args -> NumpyScalars.scalar(source, args);
            case "torch.storage._load_from_bytes":
                if (embeddedLegacy) return (PickleCallable) this::loadFromBytes;
                break;
            default:
                if (module.equals("torch") && STORAGE_TYPES.containsKey(name)) return new StorageType(STORAGE_TYPES.get(name));
        }
        throw new PickleException(source, "global " + module + "." + name + " is not on the allow list of torch/numpy reconstructors; refusing to load it");
    }

    @Override
    public void build(Object target, Object state) throws PickleException {
        if (target instanceof NumpyScalars.DType t) {
            NumpyScalars.setState(source, t, state);
            return;
        }
        // A dict with a dict state: OrderedDict instance attributes such as a state_dict's _metadata (module
        // versions). Not data, dropped.
        if (!(target instanceof Map && state instanceof Map))
            throw new PickleException(source, "BUILD of " + PickleException.describe(target) + " with " + PickleException.describe(state) + " is not supported");
    }

    /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
    private Object rebuildTensor(List<Object> a) throws PickleException {
        arity("_rebuild_tensor_v2", a, 6, 7);
        if (!(a.get(0) instanceof TorchStorage st))
            throw new PickleException(source, "_rebuild_tensor_v2 expects a storage, found " + PickleException.describe(a.get(0)));
        long[] size = longs("size", a.get(2));
        int[] shape = new int[size.length];
        for (int i = 0; i < shape.length; i++) {
            // below -2^31 the cast would wrap to a valid size: refused here, other negatives by TorchTensor.of
            if (size[i] > Integer.MAX_VALUE || size[i] < Integer.MIN_VALUE)
                throw new PickleException(source, "tensor dimension " + size[i] + " is outside 0..2^31-1");
            shape[i] = (int) size[i];
        }
        return TorchTensor.of(source, st, longValue("storage_offset", a.get(1)), shape, longs("stride", a.get(3)), bool("requires_grad", a.get(4)));
    }

    /** _rebuild_parameter(data, requires_grad, backward_hooks). */
    private Object rebuildParameter(List<Object> a) throws PickleException {
        arity("_rebuild_parameter", a, 3, 3);
        if (!(a.get(0) instanceof TorchTensor t))
            throw new PickleException(source, "_rebuild_parameter expects a tensor, found " + PickleException.describe(a.get(0)));
        return t.withRequiresGrad(bool("requires_grad", a.get(1)));
    }

    private Object orderedDict(List<Object> a) throws PickleException {
        arity("OrderedDict", a, 0, 0);
        return new LinkedHashMap<>();
    }

    private Object loadFromBytes(List<Object> a) throws IOException {
        arity("_load_from_bytes", a, 1, 1);
        if (!(a.get(0) instanceof byte[] b))
            throw new PickleException(source, "_load_from_bytes expects bytes, found " + PickleException.describe(a.get(0)));
        return LegacyTorchFormat.load(ByteBuffer.wrap(b), source + " (embedded torch.save bytes)");
    }

    private void arity(String fn, List<Object> a, int min, int max) throws PickleException {
        if (a.size() < min || a.size() > max)
            throw new PickleException(source, fn + " called with " + a.size() + " arguments, expected " + (min == max ? min : min + " to " + max));
    }

    private long longValue(String what, Object o) throws PickleException {
        if (!(o instanceof Long v)) throw new PickleException(source, what + " must be an int, found " + PickleException.describe(o));
        return v;
    }

    private long[] longs(String what, Object o) throws PickleException {
        if (!(o instanceof List<?> l)) throw new PickleException(source, what + " must be a tuple of ints, found " + PickleException.describe(o));
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = longValue(what + "[" + i + "]", l.get(i));
        return out;
    }

    private boolean bool(String what, Object o) throws PickleException {
        if (!(o instanceof Boolean b)) throw new PickleException(source, what + " must be a bool, found " + PickleException.describe(o));
        return b;
    }
}
