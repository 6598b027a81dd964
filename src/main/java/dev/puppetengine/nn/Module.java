package dev.puppetengine.nn;

import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.tensor.DeviceConstants;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * A node of the model tree. Children and parameters are registered under the diffusers / Puppet-Master
 * key segments, so {@link #namedParameters()} is exactly a checkpoint's key list ("down_blocks.0.resnets.0.
 * spatial_res_block.conv1.weight"). Forward methods are defined by each subclass with its own signature.
 */
public abstract class Module {
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Parameter> params = new LinkedHashMap<>();

    protected final <M extends Module> M add(String name, M child) {
        if (children.containsKey(name) || params.containsKey(name))   // refused before the tree changes
            throw new IllegalStateException("duplicate module name " + name);
        children.put(name, child);
        return child;
    }

    protected final Parameter param(String name, Layout layout, Init init, int... shape) {
        if (params.containsKey(name) || children.containsKey(name)) throw new IllegalStateException("duplicate parameter name " + name);
        Parameter p = new Parameter(shape, layout, init);
        params.put(name, p);
        return p;
    }

    protected final Parameter param(String name, Init init, int... shape) {
        return param(name, Layout.PLAIN, init, shape);
    }

    /**
     * A value this module computes from its weights and from inputs that do not change between sampling steps (the
     * drag FiLM from the drag raster, the frame positional embedding). With gradients off it is memoised in the
     * current {@link DeviceConstants} memo under {@code key} (what the inputs are) and this module's identity, so a
     * sampler computes it in its first step only; with gradients on (or no memo open) it is built now. A memo lives
     * only while a sampler runs, when the weights cannot change. {@code make} should free its intermediates (a
     * scope) since what it leaves in the current scope is kept with the memo.
     */
    protected final <T> T stepInvariant(Object key, Supplier<T> make) {
        return GradMode.isEnabled() ? make.get() : DeviceConstants.get(List.of("step-invariant", DeviceConstants.identity(this), key), make);
    }

    public final Map<String, Module> children() { return Collections.unmodifiableMap(children); }

    /** Every parameter below this module, in registration order, keyed by its dotted path. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        walk("", (k, p) -> out.put(k, p));
        return out;
    }

    private void walk(String prefix, BiConsumer<String, Parameter> f) {
        params.forEach((k, p) -> f.accept(prefix + k, p));
        children.forEach((k, m) -> m.walk(prefix + k + ".", f));
    }

    public final long parameterCount() {
        long[] n = {0};
        walk("", (k, p) -> n[0] += p.numel());
        return n[0];
    }
}
