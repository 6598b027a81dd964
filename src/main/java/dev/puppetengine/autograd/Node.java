package dev.puppetengine.autograd;

import dev.puppetengine.tensor.GradFn;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * One recorded operation: the producers of its inputs (edges of the graph) and the tensors its backward
 * needs. Subclasses implement {@link #backward(Tensor)}, returning one gradient per input (null where an
 * input needs none). Saved tensors are released as soon as the node's backward has run.
 */
public abstract class Node implements GradFn {
    final String name;
    final Node[] next;
    private final List<Tensor> saved = new ArrayList<>();
    private boolean released;

    protected Node(String name, Tensor... inputs) {
        this.name = name;
        this.next = new Node[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            Tensor t = inputs[i];
            if (t != null && t.requiresGrad()) next[i] = Autograd.producer(t);
        }
        if (!reusable()) Autograd.Tape.record(this);
    }

    /** Whether input {@code i} wants a gradient (skip computing it otherwise). */
    protected final boolean needs(int i) { return next[i] != null; }

    /** Keeps a handle to {@code t} until backward has run (the memory stays alive that long, no longer). */
    protected final Tensor save(Tensor t) {
        if (t == null) return null;
        Tensor a = t.alias().moveTo(null);
        saved.add(a);
        return a;
    }

    protected abstract Tensor[] backward(Tensor gy);

    /** Nodes without saved state (leaf accumulators) may run in several backward passes. */
    boolean reusable() { return false; }

    final Tensor[] apply(Tensor gy) {
        if (released && !reusable()) throw new IllegalStateException("backward through '" + name + "' a second time: its saved tensors were already freed");
        return backward(gy);
    }

    final void release() {
        released = true;
        for (Tensor t : saved) t.close();
        saved.clear();
    }

    @Override
    public String toString() { return "Node(" + name + ")"; }
}
