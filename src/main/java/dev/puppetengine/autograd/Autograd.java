package dev.puppetengine.autograd;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reverse-mode differentiation. Operations in {@link F} attach a {@link Node} to their result when grad mode
 * is on and an input requires grad; {@link #backward} walks the graph from a root in topological order,
 * frees each node's saved tensors and incoming gradient as soon as they are used, and accumulates into
 * leaf {@code grad}s (F32 for low-precision leaves, so many micro-steps add up without loss). A {@link Tape} frees
 * the graphs backward never consumes.
 */
public final class Autograd {
    private Autograd() {}

    /** True when an op on these inputs must record a node. */
    public static boolean recording(Tensor... inputs) {
        if (!GradMode.isEnabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    /** Marks {@code out} as produced by {@code node}. */
    public static Tensor attach(Tensor out, Node node) {
        out.setRequiresGrad(true);
        out.setGradFn(node);
        return out;
    }

    /** The node gradients of {@code t} flow into: its producer, or the accumulator of a leaf. */
    static Node producer(Tensor t) {
        if (t.gradFn() instanceof Node n) return n;
        if (t.gradFn() != null) throw new IllegalStateException("foreign gradFn on " + t);
        AccumulateGrad acc = new AccumulateGrad(t);
        t.setGradFn(acc);
        return acc;
    }

    public static boolean isLeaf(Tensor t) {
        return t.gradFn() == null || t.gradFn() instanceof AccumulateGrad;
    }

    /** Makes {@code t} a leaf that collects gradients. */
    public static Tensor requireGrad(Tensor t) {
        if (!isLeaf(t)) throw new IllegalArgumentException("requireGrad on a non-leaf tensor");
        t.setRequiresGrad(true);
        return t;
    }

    /** backward of a scalar (one-element) root with gradient 1. */
    public static void backward(Tensor root) {
        if (root.numel() != 1) throw new IllegalArgumentException("backward() without a gradient needs a one-element root, got " + Shape.str(root.shape()));
        try (Scope s = Scope.open()) {
            backward(root, Tensor.full(root.backend(), root.dtype(), 1.0, root.shape()));
        }
    }

    /** Propagates {@code gradRoot} (same shape as root) back through the graph. The graph is consumed. */
    public static void backward(Tensor root, Tensor gradRoot) {
        if (!root.requiresGrad()) throw new IllegalArgumentException("backward from a tensor that does not require grad");
        if (!root.sameShape(gradRoot))
            throw new IllegalArgumentException("gradient shape " + Shape.str(gradRoot.shape()) + " != root shape " + Shape.str(root.shape()));
        Node start = producer(root);
        Map<Node, Integer> deps = dependencies(start);
        Map<Node, Tensor> pending = new IdentityHashMap<>();
        pending.put(start, gradRoot.alias());
        Deque<Node> ready = new ArrayDeque<>();
        ready.push(start);
        try (GradMode.Guard g = GradMode.noGrad()) {
            while (!ready.isEmpty()) {
                Node n = ready.pop();
                Tensor gy = pending.remove(n);
                Tensor[] gin = null;
                if (gy != null) {
                    try (Scope s = Scope.open()) {                    // temporaries of the node's backward die here
                        gin = n.apply(gy);
                        for (Tensor t : gin) if (t != null) Scope.escape(t);
                    }
                    gy.close();
                }
                n.release();
                for (int i = 0; i < n.next.length; i++) {
                    Node m = n.next[i];
                    Tensor gi = gin == null || i >= gin.length ? null : gin[i];
                    if (m == null) {
                        if (gi != null) gi.close();
                        continue;
                    }
                    if (gi != null) {
                        Tensor prev = pending.get(m);
                        if (prev == null) pending.put(m, gi);
                        else {
                            pending.put(m, F.addRaw(prev, gi));
                            prev.close();
                            gi.close();
                        }
                    }
                    int d = deps.get(m) - 1;
                    deps.put(m, d);
                    if (d == 0) ready.push(m);
                }
            }
        } finally {
            for (Tensor t : pending.values()) t.close();
            for (Node n : deps.keySet()) n.release();   // after a failure midway, the nodes not reached yet: nothing else frees their saved tensors
        }
    }

    /**
     * Opens a tape: every node recorded on this thread until it closes is freed when it closes, however the region
     * ends. Saved tensors belong to no scope, so without it a graph that is neither consumed by {@link #backward}
     * (a forward that threw midway, a non-finite loss left unpropagated) keeps what it saved, and the weights that
     * aliases, allocated for good. Nodes a finished backward already freed cost nothing more here.
     * {@code try (Scope s = Scope.open(); Autograd.Tape t = Autograd.tape()) { loss = ...; Autograd.backward(loss); }}
     */
    public static Tape tape() { return new Tape(); }

    /** Whatever nodes the innermost open tape of this thread has recorded; see {@link #tape}. */
    public static final class Tape implements AutoCloseable {
        private static final ThreadLocal<Tape> CURRENT = new ThreadLocal<>();
        private final Tape outer = CURRENT.get();
        private final List<Node> nodes = new ArrayList<>();
        private boolean closed;

        private Tape() { CURRENT.set(this); }

        static void record(Node n) {
            Tape t = CURRENT.get();
            if (t != null) t.nodes.add(n);
        }

        /** Frees the recorded nodes. Tapes nest: closing one while a tape opened inside it is still open is refused. */
        @Override
        public void close() {
            if (closed) return;
            // an outer tape closed first would be made current again by the inner one's close, and record for good
            if (CURRENT.get() != this) throw new IllegalStateException("tapes closed out of order: an inner tape is still open");
            closed = true;
            CURRENT.set(outer);
            nodes.forEach(Node::release);
            nodes.clear();
        }
    }

    /** Every node reachable from {@code start}, with its count of incoming edges. */
    private static Map<Node, Integer> dependencies(Node start) {
        Map<Node, Integer> deps = new IdentityHashMap<>();
        Deque<Node> stack = new ArrayDeque<>();
        stack.push(start);
        deps.put(start, 0);
        while (!stack.isEmpty()) {
            Node n = stack.pop();
            for (Node m : n.next) {
                if (m == null) continue;
                Integer d = deps.get(m);
                if (d == null) stack.push(m);
                deps.put(m, d == null ? 1 : d + 1);
            }
        }
        return deps;
    }

    /** Sink of a leaf: adds the incoming gradient into {@code leaf.grad()}, created in the leaf's scope. */
    static final class AccumulateGrad extends Node {
        final Tensor leaf;

        AccumulateGrad(Tensor leaf) {
            super("accumulate");
            this.leaf = leaf;
        }

        @Override
        boolean reusable() { return true; }

        @Override
        protected Tensor[] backward(Tensor gy) {
            if (!leaf.sameShape(gy))
                throw new IllegalStateException("gradient " + Shape.str(gy.shape()) + " for leaf " + Shape.str(leaf.shape()));
            Tensor g = leaf.grad();
            if (g == null) {
                DType gt = leaf.dtype().full();
                Tensor fresh = gy.backend().copy(gy, gt);
                leaf.setGrad(fresh.moveTo(leaf.owner()));
            } else {
                gy.backend().axpby(1.0, gy, 1.0, g);
            }
            return new Tensor[0];
        }
    }
}
