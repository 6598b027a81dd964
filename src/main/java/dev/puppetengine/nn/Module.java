package dev.puppetengine.nn;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A node of the model tree. Children and parameters are registered under the diffusers / Puppet-Master
 * key segments, so {@link #namedParameters()} is exactly a checkpoint's key list ("down_blocks.0.resnets.0.
 * spatial_res_block.conv1.weight"). Forward methods are defined by each subclass with its own signature.
 */
public abstract class Module {
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Parameter> params = new LinkedHashMap<>();

    protected final <M extends Module> M add(String name, M child) {
        if (children.put(name, child) != null || params.containsKey(name))
            throw new IllegalStateException("duplicate module name " + name);
        return child;
    }

    protected final Parameter param(String name, Layout layout, Init init, int... shape) {
        Parameter p = new Parameter(shape, layout, init);
        if (params.put(name, p) != null || children.containsKey(name)) throw new IllegalStateException("duplicate parameter name " + name);
        return p;
    }

    protected final Parameter param(String name, Init init, int... shape) {
        return param(name, Layout.PLAIN, init, shape);
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
