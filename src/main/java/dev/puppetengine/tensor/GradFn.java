package dev.puppetengine.tensor;

/**
 * The slot a tensor keeps for the autograd layer: the node that produced it. The tensor layer never looks
 * inside; only {@code dev.puppetengine.autograd} creates and reads these.
 */
public interface GradFn {
}
