package dev.puppetengine.backend;

import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.Arrays;

/**
 * The operand checks of the {@link Backend} ops, one copy for every backend: a bad call fails the same way, with the
 * same message (op, operand, shape found, shape expected), on the CPU reference and on the GPU. Convolution and
 * attention shapes have their own records, {@link ConvGeometry} and {@link AttentionDims}.
 */
public final class OpChecks {
    private OpChecks() {}

    static void require(boolean ok, String what) {
        if (!ok) throw new IllegalArgumentException(what);
    }

    public static void sameShape(String op, Tensor a, Tensor b) {
        require(a.sameShape(b), op + ": shapes " + Shape.str(a.shape()) + " and " + Shape.str(b.shape()) + " differ");
    }

    /** clamp's bounds: numbers, {@code lo <= hi}. */
    public static void clampBounds(double lo, double hi) {
        require(lo <= hi, "clamp: bounds [" + lo + ", " + hi + "] are not lo <= hi");   // false for NaN too
    }

    /** x's shape reduces to {@code shape} by summing broadcast dims: {@code shape} broadcasts to x's. */
    public static void sumTo(int[] xs, int[] shape) {
        boolean ok = shape.length <= xs.length;
        for (int i = 1; ok && i <= shape.length; i++) ok = shape[shape.length - i] == 1 || shape[shape.length - i] == xs[xs.length - i];
        require(ok, "sumTo: " + Shape.str(xs) + " does not broadcast from " + Shape.str(shape));
    }

    /** a (..., M, K) x b (..., K, N): the broadcast batch dims. */
    public static int[] matmulBatch(int[] as, int[] bs) {
        require(as.length >= 2 && bs.length >= 2, "matmul needs rank >= 2, got " + Shape.str(as) + " x " + Shape.str(bs));
        require(bs[bs.length - 2] == as[as.length - 1], "matmul: inner dims differ in " + Shape.str(as) + " x " + Shape.str(bs));
        return Shape.broadcast(Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
    }

    /** x (..., K) w (N, K)^T + bias (N): the output shape (..., N). */
    public static int[] linear(Tensor x, Tensor w, Tensor bias) {
        int[] xs = x.shape();
        int k = xs[xs.length - 1];
        require(w.dim() == 2 && w.size(1) == k, "linear: weight " + Shape.str(w.shape()) + " does not take inputs " + Shape.str(xs));
        require(k > 0, "linear: inputs " + Shape.str(xs) + " have no features");   // rows are counted as numel / K
        int n = w.size(0);
        require(bias == null || (bias.dim() == 1 && bias.size(0) == n), "linear: bias must have shape [" + n + "]");
        int[] os = xs.clone();
        os[os.length - 1] = n;
        return os;
    }

    /** {@link #linear} whose N outputs are values then gates: the output shape (..., N / 2). */
    public static int[] linearGeglu(Tensor x, Tensor w, Tensor bias) {
        int[] os = linear(x, w, bias);
        int n = os[os.length - 1];
        require(n % 2 == 0, "linearGeglu: the projection needs an even number of outputs (values then gates), got " + n);
        os[os.length - 1] = n / 2;
        return os;
    }

    /** p (..., 2D): the output shape (..., D). */
    public static int[] geglu(int[] ps) {
        int two = ps[ps.length - 1];
        require(two % 2 == 0, "geglu: last dim " + two + " is odd");
        int[] os = ps.clone();
        os[os.length - 1] = two / 2;
        return os;
    }

    /** The gradient of geglu's output for input p (..., 2D): shape (..., D). */
    public static void gegluBackward(int[] ps, Tensor gy) {
        int[] os = geglu(ps);
        require(Arrays.equals(gy.shape(), os), "gegluBackward: gradient " + Shape.str(gy.shape()) + " must have the output's shape " + Shape.str(os));
    }

    /** A product's residual: null, or exactly the output's shape. */
    public static void residual(String op, Tensor residual, int[] outShape) {
        require(residual == null || Arrays.equals(residual.shape(), outShape),
                op + ": residual " + (residual == null ? "" : Shape.str(residual.shape())) + " must have the output's shape " + Shape.str(outShape));
    }

    /** x (N, ..., C) in groups of C / groups channels; gamma and beta null or [C]. */
    public static void groupNorm(int[] s, int groups, Tensor gamma, Tensor beta) {
        require(s.length >= 2, "groupNorm needs (N, ..., C), got " + Shape.str(s));
        int c = s[s.length - 1];
        require(groups > 0 && c % groups == 0, "groupNorm: " + c + " channels not divisible by " + groups + " groups");
        normAffine("groupNorm", c, gamma, beta);
    }

    /** x (..., C) normalised over C; gamma and beta null or [C]. */
    public static void layerNorm(int[] s, Tensor gamma, Tensor beta) {
        require(s.length >= 1, "layerNorm needs (..., C), got " + Shape.str(s));
        normAffine("layerNorm", s[s.length - 1], gamma, beta);
    }

    private static void normAffine(String op, int c, Tensor gamma, Tensor beta) {
        require(gamma == null || Arrays.equals(gamma.shape(), new int[]{c}), op + ": gamma " + (gamma == null ? "" : Shape.str(gamma.shape())) + " must have shape [" + c + "]");
        require(beta == null || Arrays.equals(beta.shape(), new int[]{c}), op + ": beta " + (beta == null ? "" : Shape.str(beta.shape())) + " must have shape [" + c + "]");
    }

    /** The input of a 2x nearest upsample: an image batch (N, H, W, C). */
    public static void upsample(int[] s) {
        require(s.length == 4, "upsampleNearest2x expects (N,H,W,C), got " + Shape.str(s));
    }

    /** The gradient of a 2x nearest upsample: (N, 2H, 2W, C). */
    public static void upsampleBackward(int[] gs) {
        require(gs.length == 4 && gs[1] % 2 == 0 && gs[2] % 2 == 0, "upsampleNearest2xBackward expects (N,2H,2W,C), got " + Shape.str(gs));
    }

    /** feat (N, H, W, C) sampled at points (N, K, 2). */
    public static void gridSample(int[] fs, int[] ps) {
        require(fs.length == 4 && ps.length == 3 && ps[2] == 2 && ps[0] == fs[0],
                "gridSamplePoints expects feat (N,H,W,C) and points (N,K,2), got " + Shape.str(fs) + ", " + Shape.str(ps));
    }

    /** The gradient (N, K, C) of sampling a feature map of featShape (N, H, W, C) at points (N, K, 2). */
    public static void gridSampleBackward(int[] gs, int[] ps, int[] featShape) {
        gridSample(featShape, ps);
        require(gs.length == 3 && gs[0] == featShape[0] && gs[1] == ps[1] && gs[2] == featShape[3],
                "gridSamplePointsBackward: gradient " + Shape.str(gs) + " must be (N,K,C) = " + Shape.str(new int[]{featShape[0], ps[1], featShape[3]}));
    }

    /** blendFilm's operands (beta: with gamma, of a's shape). */
    public static void blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor beta) {
        blendFilm(a, b, alpha, gamma);
        require((gamma == null) == (beta == null), "blendFilm: gamma and beta come together");
        require(beta == null || a.sameShape(beta), "blendFilm: beta " + (beta == null ? "" : Shape.str(beta.shape())) + " must have a's shape " + Shape.str(a.shape()));
    }

    /** The checks blendFilm's forward and backward share: b and gamma of a's shape, alpha [1] with b. */
    public static void blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma) {
        String want = " must have a's shape " + Shape.str(a.shape());
        if (b != null && !a.sameShape(b)) throw new IllegalArgumentException("blendFilm: b " + Shape.str(b.shape()) + want);
        if (b != null && (alpha == null || !Arrays.equals(alpha.shape(), new int[]{1})))   // [1]: its gradient's shape
            throw new IllegalArgumentException("blendFilm: a blend needs alpha of shape [1], got " + (alpha == null ? "none" : Shape.str(alpha.shape())));
        if (gamma != null && !a.sameShape(gamma)) throw new IllegalArgumentException("blendFilm: gamma " + Shape.str(gamma.shape()) + want);
    }
}
