package dev.puppetengine.train;

import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/** Exponential moving average of weights, in fp32: ema = decay * ema + (1 - decay) * w after each optimiser step. */
public final class Ema implements AutoCloseable {
    private final Scope scope = Scope.detached();
    private final Map<String, Tensor> weights = new LinkedHashMap<>();
    private final double decay;

    /** Starts equal to {@code source} (the reference initialises EMA as a copy of the model). */
    public Ema(Map<String, Tensor> source, double decay) {
        this.decay = decay;
        scope.fill(() -> source.forEach((k, t) -> weights.put(k, t.backend().copy(t, t.dtype().full()))));
    }

    public void update(Map<String, Tensor> source) {
        source.forEach((k, t) -> t.backend().axpby(1 - decay, t, decay, weights.get(k)));
    }

    public Map<String, Tensor> weights() { return weights; }

    @Override
    public void close() { scope.close(); }
}
