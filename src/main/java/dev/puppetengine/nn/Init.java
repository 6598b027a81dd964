package dev.puppetengine.nn;

/**
 * How a parameter is initialised when a model is created from scratch: PyTorch's defaults (Linear/Conv
 * weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), norms 1 and 0), constants (AlphaBlender mix
 * factors, zero-initialised output convs) and normal tables (CLIP embeddings).
 */
public record Init(Kind kind, double value) {
    public enum Kind { UNIFORM, NORMAL, CONSTANT }

    public static Init fanIn(long fanIn) { return new Init(Kind.UNIFORM, 1 / Math.sqrt(fanIn)); }

    public static Init constant(double v) { return new Init(Kind.CONSTANT, v); }

    public static Init zeros() { return constant(0); }

    public static Init ones() { return constant(1); }

    public static Init normal(double std) { return new Init(Kind.NORMAL, std); }
}
