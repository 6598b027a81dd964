package dev.puppetengine.nn;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Owns the weight tensors of a module tree on one backend in one dtype (a long-lived scope). Creating
 * weights from scratch is deterministic per parameter name: parameter "a.b.weight" draws from the Philox
 * stream keyed by (seed, hash of its name), so adding a module never changes the others' initial values.
 */
public final class ParameterStore implements AutoCloseable {
    private final Scope scope = Scope.detached();
    private final Map<String, Parameter> params;
    private final Backend backend;
    private final DType dtype;

    private ParameterStore(Module root, Backend backend, DType dtype) {
        this.params = root.namedParameters();
        this.backend = backend;
        this.dtype = dtype;
    }

    /** Weights initialised as {@link Init} says, from {@code seed}. */
    public static ParameterStore initialize(Module root, Backend backend, DType dtype, long seed) {
        ParameterStore s = new ParameterStore(root, backend, dtype);
        s.scope.fill(() -> s.params.forEach((name, p) -> p.set(initialValue(backend, dtype, name, p, seed))));
        return s;
    }

    /** Zero weights, to be overwritten by {@link #load}. */
    public static ParameterStore allocate(Module root, Backend backend, DType dtype) {
        ParameterStore s = new ParameterStore(root, backend, dtype);
        s.scope.fill(() -> s.params.forEach((name, p) -> p.set(Tensor.zeros(backend, dtype, p.shape()))));
        return s;
    }

    /**
     * The value {@link #initialize} gives parameter {@code name} (a new tensor, owned by the current scope): the
     * converter uses it to create single new modules of a model it never materialises as a whole.
     */
    public static Tensor initialValue(Backend backend, DType dtype, String name, Parameter p, long seed) {
        Init init = p.init();
        Tensor t = backend.empty(dtype, p.shape());
        switch (init.kind()) {
            case CONSTANT:
                backend.fill(t, init.value());
                return t;
            case UNIFORM:
            case NORMAL: {
                RandomKind kind = init.kind() == Init.Kind.NORMAL ? RandomKind.NORMAL : RandomKind.UNIFORM;
                Tensor r = backend.empty(dtype, p.shape());
                backend.fillRandom(r, kind, seed ^ nameHash(name), 0);
                Tensor v = kind == RandomKind.NORMAL ? backend.affine(r, init.value(), 0) : backend.affine(r, 2 * init.value(), -init.value());
                backend.copyInto(v, t);
                r.close();
                v.close();
                return t;
            }
            default:
                throw new AssertionError();
        }
    }

    /** FNV-1a 64 of the parameter name. */
    static long nameHash(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    public Map<String, Parameter> parameters() { return params; }

    public Backend backend() { return backend; }

    public DType dtype() { return dtype; }

    /** Overwrites parameter {@code name} from an engine-layout tensor (any dtype; converted). */
    public void load(String name, Tensor engineLayout) {
        Parameter p = params.get(name);
        if (p == null) throw new IllegalArgumentException("unexpected parameter " + name);
        if (!Arrays.equals(engineLayout.shape(), p.shape()))
            throw new IllegalArgumentException("parameter " + name + ": expected shape " + Shape.str(p.shape()) + ", got " + Shape.str(engineLayout.shape()));
        try (Tensor src = engineLayout.backend() == backend ? engineLayout.alias() : engineLayout.to(backend)) {
            backend.copyInto(src, p.value());
        }
    }

    /**
     * Makes exactly the selected parameters leaves that collect gradients. The others stop collecting and lose any
     * gradient they hold: a store trained again with a narrower selection would otherwise still backpropagate into
     * the parameters it no longer trains, into gradients no optimizer clears.
     */
    public void requireGrad(Predicate<String> which) {
        params.forEach((name, p) -> {
            Tensor v = p.value();
            if (which.test(name)) Autograd.requireGrad(v);
            else {
                v.setRequiresGrad(false);
                freeGrad(v);
            }
        });
    }

    /**
     * Adds the parameters of {@code extra}, a module outside this store's tree, as {@code prefix + name}, initialised
     * as {@link #initialize} would (from {@code seed} and their prefixed names) and owned by this store from now on:
     * freed when it closes, trained with it. This is how a new module joins a loaded model's weights (the head that
     * fit-image-encoder trains together with the image encoder) while every parameter keeps exactly one owner.
     */
    public void addInitialized(String prefix, Module extra, long seed) {
        Map<String, Parameter> add = new LinkedHashMap<>();
        extra.namedParameters().forEach((name, p) -> {
            String key = prefix + name;
            if (params.containsKey(key) || add.containsKey(key)) throw new IllegalArgumentException("parameter " + key + " is already in this store");
            if (p.isMaterialized()) throw new IllegalArgumentException("parameter " + key + " already has weights (owned by another store)");
            add.put(key, p);
        });
        try (Scope.Use u = scope.use()) {
            add.forEach((name, p) -> p.set(initialValue(backend, dtype, name, p, seed)));
        }
        params.putAll(add);
    }

    /** Frees the gradients of all parameters. */
    public void zeroGrad() {
        for (Parameter p : params.values()) freeGrad(p.value());
    }

    private static void freeGrad(Tensor v) {
        if (v.grad() == null) return;
        v.grad().close();
        v.setGrad(null);
    }

    /** Frees the weights and their gradients; closing again does nothing. */
    @Override
    public void close() {
        if (scope.isClosed()) return;
        // the scope owns the gradients too (AccumulateGrad puts them with their weight) and frees them on any thread;
        // closed one by one they would be refused off its thread, leaking everything
        for (Parameter p : params.values()) p.value().setGrad(null);
        scope.close();
    }
}
