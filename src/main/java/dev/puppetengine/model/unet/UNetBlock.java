package dev.puppetengine.model.unet;

import dev.puppetengine.tensor.Tensor;

import java.util.Deque;

/** A down or up block: down blocks push their outputs on the skip stack, up blocks pop and concatenate. */
interface UNetBlock {
    Tensor forward(Tensor h, BlockInputs in, Deque<Tensor> skips);
}
