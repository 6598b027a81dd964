package dev.puppetengine.backend;

/** Elementwise functions with their derivatives (the CPU reference definitions). GELU is the exact erf form. */
public enum UnaryOp {
    NEG, EXP, LOG, SQUARE, SQRT, SIGMOID, SILU, GELU, SIN, COS,
    /** 1 where x > 0 else 0 (masks); derivative 0. */
    STEP;

    public double apply(double x) {
        switch (this) {
            case NEG: return -x;
            case EXP: return Math.exp(x);
            case LOG: return Math.log(x);
            case SQUARE: return x * x;
            case SQRT: return Math.sqrt(x);
            case SIGMOID: return sigmoid(x);
            case SILU: return x * sigmoid(x);
            case GELU: return 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
            case SIN: return Math.sin(x);
            case COS: return Math.cos(x);
            case STEP: return x > 0 ? 1 : 0;
            default: throw new AssertionError();
        }
    }

    /** d apply / dx at x. */
    public double derivative(double x) {
        switch (this) {
            case NEG: return -1;
            case EXP: return Math.exp(x);
            case LOG: return 1 / x;
            case SQUARE: return 2 * x;
            case SQRT: return 0.5 / Math.sqrt(x);
            case SIGMOID: { double s = sigmoid(x); return s * (1 - s); }
            case SILU: { double s = sigmoid(x); return s * (1 + x * (1 - s)); }
            case GELU: return 0.5 * (1 + Erf.erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
            case SIN: return Math.cos(x);
            case COS: return -Math.sin(x);
            case STEP: return 0;
            default: throw new AssertionError();
        }
    }

    public static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
