package dev.puppetengine.train;

import dev.puppetengine.tensor.Tensor;

import java.io.IOException;

/**
 * What a {@link Trainer} minimises: a scalar loss over a batch of training items (clips) at a micro-step.
 * All randomness must come from the micro-step counter (see {@code random.Streams}) so resumed runs repeat.
 */
public interface Objective {
    /** Number of training items; the trainer visits them in a seeded order, epoch after epoch. */
    int size();

    /** The loss (a one-element tensor in the current scope, recording the graph) for {@code items}. */
    Tensor loss(int[] items, long microStep, boolean checkpointing) throws IOException;
}
