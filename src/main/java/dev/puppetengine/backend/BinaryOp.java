package dev.puppetengine.backend;

public enum BinaryOp {
    ADD, SUB, MUL, DIV;

    public double apply(double a, double b) {
        switch (this) {
            case ADD: return a + b;
            case SUB: return a - b;
            case MUL: return a * b;
            case DIV: return a / b;
            default: throw new AssertionError();
        }
    }
}
