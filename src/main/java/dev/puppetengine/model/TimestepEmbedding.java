package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** linear_2(SiLU(linear_1(x))): the UNet time MLP, SVD's add_embedding and the frame positional MLP. */
public final class TimestepEmbedding extends Module {
    private final Linear linear1, linear2;

    public TimestepEmbedding(int in, int hidden, int out) {
        this.linear1 = add("linear_1", new Linear(in, hidden, true));
        this.linear2 = add("linear_2", new Linear(hidden, out, true));
    }

    public Tensor forward(Tensor x) {
        return linear2.forward(F.silu(linear1.forward(x)));
    }
}
