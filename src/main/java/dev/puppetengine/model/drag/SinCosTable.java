package dev.puppetengine.model.drag;

/**
 * The MAE-style 2-D sin-cos positional table of a r x r grid (spec 3.5): row i*r + j (row i, column j) holds
 * [sin(j w), cos(j w), sin(i w), cos(i w)] with w_k = 10000^(-k / (dim/4)), k = 0..dim/4-1; computed in
 * float64 (the reference builds it with numpy) and cast by the caller.
 */
public final class SinCosTable {
    private SinCosTable() {}

    public static double[] table(int r, int dim) {
        if (dim % 4 != 0) throw new IllegalArgumentException("positional dim " + dim + " is not a multiple of 4");
        int q = dim / 4;
        double[] t = new double[r * r * dim];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                int o = (i * r + j) * dim;
                for (int k = 0; k < q; k++) {
                    double w = 1.0 / Math.pow(10000.0, (double) k / q);
                    t[o + k] = Math.sin(j * w);
                    t[o + q + k] = Math.cos(j * w);
                    t[o + 2 * q + k] = Math.sin(i * w);
                    t[o + 3 * q + k] = Math.cos(i * w);
                }
            }
        return t;
    }
}
