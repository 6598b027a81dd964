package dev.puppetengine.nn;

import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;
import java.util.Arrays;

/**
 * A named weight of a {@link Module}: its engine shape, checkpoint layout and initialiser are known when
 * the module tree is built, so a full-size model can be described (names, shapes, counts) without memory.
 * The tensor is attached later by {@link ParameterStore}.
 */
public final class Parameter {
    private final int[] shape;
    private final Layout layout;
    private final Init init;
    private Tensor value;

    Parameter(int[] shape, Layout layout, Init init) {
        this.shape = shape.clone();
        this.layout = layout;
        this.init = init;
    }

    /** Shape in the engine's layout. */
    public int[] shape() { return shape.clone(); }

    /** Shape as stored in diffusers / Puppet-Master checkpoints. */
    public int[] checkpointShape() { return layout.checkpointShape(shape); }

    public Layout layout() { return layout; }

    public Init init() { return init; }

    public long numel() { return Shape.numel(shape); }

    public boolean isMaterialized() { return value != null && !value.isClosed(); }

    public Tensor value() {
        if (!isMaterialized()) throw new IllegalStateException("parameter " + Shape.str(shape) + " has no weights: load or initialise the model first");
        return value;
    }

    void set(Tensor t) {
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException("parameter expects shape " + Shape.str(shape) + ", got " + Shape.str(t.shape()));
        value = t;
    }
}
