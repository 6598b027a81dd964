package dev.puppetengine.testing;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Finite-difference gradient check in float64: L = sum(f(x) * R) for a fixed random R, analytic dL/dx from
 * backward against central differences at up to {@code maxPoints} elements of each input.
 */
public final class GradCheck {
    private GradCheck() {}

    public static final CpuBackend CPU = CpuBackend.get();

    /** A float64 leaf of the given shape with N(0, 1) values from {@code rng}. */
    public static Tensor randn(Random rng, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.of(CPU, DType.F64, shape, v);
    }

    public static Tensor uniform(Random rng, double lo, double hi, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rng.nextDouble();
        return Tensor.of(CPU, DType.F64, shape, v);
    }

    public static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        check(name, f, 40, 1e-5, inputs);
    }

    /** Inputs are float64 tensors; those to check are marked with requireGrad by this method (all non-null). */
    public static void check(String name, Function<Tensor[], Tensor> f, int maxPoints, double rtol, Tensor... inputs) {
        Random rng = new Random(name.hashCode());
        try (Scope s = Scope.open()) {
            for (Tensor t : inputs) if (t != null) Autograd.requireGrad(t);
            Tensor y = f.apply(inputs);
            Tensor r = randn(rng, y.shape());
            Tensor loss = F.sum(F.mul(y, r));
            Autograd.backward(loss);
            for (int i = 0; i < inputs.length; i++) {
                Tensor x = inputs[i];
                if (x == null) continue;
                assertNotNull(x.grad(), name + ": input " + i + " got no gradient");
                double[] analytic = x.grad().toDoubleArray();
                double[] base = x.toDoubleArray();
                int n = base.length;
                int points = Math.min(n, maxPoints);
                for (int p = 0; p < points; p++) {
                    int j = n <= maxPoints ? p : rng.nextInt(n);
                    double h = 1e-6 * Math.max(1, Math.abs(base[j]));
                    double lp = eval(f, inputs, x, base, j, base[j] + h, r);
                    double lm = eval(f, inputs, x, base, j, base[j] - h, r);
                    x.copyFrom(base);
                    double numeric = (lp - lm) / (2 * h);
                    double a = analytic[j];
                    double tol = 1e-7 + rtol * Math.max(Math.abs(a), Math.abs(numeric));
                    if (!(Math.abs(a - numeric) <= tol))
                        fail(String.format("%s: input %d element %d: analytic %.10g vs numeric %.10g", name, i, j, a, numeric));
                }
            }
        }
    }

    private static double eval(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor x, double[] base, int j, double value, Tensor r) {
        double[] v = base.clone();
        v[j] = value;
        x.copyFrom(v);
        try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
            return F.sum(F.mul(f.apply(inputs), r)).item();
        }
    }
}
