package dev.puppetengine.model.drag;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.tensor.Tensor;

/** Sequential(Linear(2C + 2P -> X), SiLU, Linear(X -> X)): keys "0" and "2" as in the checkpoint. */
public final class DragTokenMlp extends Module {
    private final Linear first, second;

    public DragTokenMlp(int in, int out) {
        this.first = add("0", new Linear(in, out, true));
        this.second = add("2", new Linear(out, out, true));
    }

    public Tensor forward(Tensor x) {
        return second.forward(F.silu(first.forward(x)));
    }
}
