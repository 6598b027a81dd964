package dev.puppetengine.testing;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Whole-model gradient check in float64: backward of a scalar loss against central differences at a few
 * random elements of each named parameter. The loss supplier must recompute the model from the current
 * parameter values (it is called under no-grad for the differences).
 */
public final class ParameterGradCheck {
    private ParameterGradCheck() {}

    /** Adds N(0, std^2) noise to every parameter, so constant initial values (norms, mix factors) hide nothing. */
    public static void perturb(ParameterStore ps, Random rng, double std) {
        for (Parameter p : ps.parameters().values()) {
            double[] v = p.value().toDoubleArray();
            for (int i = 0; i < v.length; i++) v[i] += std * rng.nextGaussian();
            p.value().copyFrom(v);
        }
    }

    /** Checks {@code pointsPerParameter} elements of each of {@code names}; returns how many were compared. */
    public static int check(ParameterStore ps, List<String> names, int pointsPerParameter, Random rng, Supplier<Tensor> loss) {
        ps.requireGrad(names::contains);
        int checked = 0;
        try (Scope s = Scope.open()) {     // owns the graph and the gradients until the comparison is done
            Autograd.backward(loss.get());
            for (String name : names) {
                Parameter p = ps.parameters().get(name);
                assertNotNull(p, "no parameter " + name);
                assertNotNull(p.value().grad(), name + " got no gradient");
                double[] g = p.value().grad().toDoubleArray(), base = p.value().toDoubleArray();
                for (int t = 0; t < pointsPerParameter; t++) {
                    int j = rng.nextInt(base.length);
                    double h = 1e-5;
                    double lp = eval(p, base, j, base[j] + h, loss), lm = eval(p, base, j, base[j] - h, loss);
                    p.value().copyFrom(base);
                    double num = (lp - lm) / (2 * h);
                    if (Math.abs(num - g[j]) > 1e-6 + 1e-4 * Math.max(Math.abs(num), Math.abs(g[j])))
                        fail(name + "[" + j + "]: analytic " + g[j] + " vs numeric " + num);
                    checked++;
                }
            }
            ps.zeroGrad();
        }
        return checked;
    }

    private static double eval(Parameter p, double[] base, int j, double v, Supplier<Tensor> loss) {
        double[] x = base.clone();
        x[j] = v;
        p.value().copyFrom(x);
        try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
            return loss.get().item();
        }
    }

    /** sum(y * r): a scalar whose gradient with respect to y is the fixed random r. */
    public static Tensor project(Tensor y, Tensor r) {
        return F.sum(F.mul(y, r));
    }
}
