package dev.puppetengine.autograd;

import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records, on this thread while recording is on, every matrix product {@link F} sends to the backend: the
 * forward of matmul, linear and conv2d (the temporal conv is a 3x1 conv2d) and the products their backward
 * closures run (input and weight gradients). {@code bench gemm} uses it to list the GEMM and convolution shapes
 * a real UNet run issues instead of a hand-written list that drifts from the model. Shapes only: it is called
 * before the backend op, so the numbers the op computes play no part.
 */
public final class GemmRecorder {
    private GemmRecorder() {}

    /**
     * One product. kind: matmul, linear or conv2d; pass: forward, backward_input or backward_weight.
     * matmul/linear: a (batch, m, k) x b (batch, k, n); ta/tb say an operand is a transposed view (the
     * backward's x^T and gy^T), which changes the kernel a GEMM library picks; linear is x (m, k) w^T with w
     * stored (n, k). conv2d: x (N, H, W, Cin) and w (Cout, kh, kw, Cin) channels-last, with spec; for the
     * backward passes x and w are the shapes of the forward's operands. epilogue: what the forward's epilogue does
     * besides the bias (Epilogue: none, a residual add, the GEGLU gate).
     */
    public record Product(String kind, String pass, DType dtype, int batch, int m, int n, int k, boolean ta, boolean tb,
                          boolean bias, Epilogue epilogue, List<Integer> x, List<Integer> w, ConvSpec spec) {

        static Product gemm(String kind, String pass, DType dtype, int batch, int m, int n, int k, boolean ta, boolean tb, boolean bias,
                            Epilogue epilogue) {
            return new Product(kind, pass, dtype, batch, m, n, k, ta, tb, bias, epilogue, null, null, null);
        }

        public static Product conv(String pass, DType dtype, int[] x, int[] w, ConvSpec spec, boolean bias, Epilogue epilogue) {
            return new Product("conv2d", pass, dtype, 0, 0, 0, 0, false, false, bias, epilogue, List.of(box(x)), List.of(box(w)), spec);
        }

        public static Product square(DType dtype, int n) {
            return gemm("matmul", "forward", dtype, 1, n, n, n, false, false, false, Epilogue.NONE);
        }

        public boolean isConv() { return spec != null; }

        /** 2 FLOPs per multiply-add; every pass of a convolution has the forward's count. */
        public long flops() {
            if (!isConv()) return 2L * batch * m * n * k;
            int ho = spec.outH(x.get(1), w.get(1)), wo = spec.outW(x.get(2), w.get(2));
            return 2L * x.get(0) * ho * wo * w.get(0) * w.get(1) * w.get(2) * w.get(3);
        }

        /** The temporal conv of the spatio-temporal resnets: a (3, 1) kernel over (B, F, H*W, C), padded one frame each side. */
        public boolean isTemporal() {
            return isConv() && w.get(1) == 3 && w.get(2) == 1 && spec.padTop() == 1 && spec.padBottom() == 1 && spec.padLeft() == 0 && spec.padRight() == 0;
        }
    }

    /** A forward's epilogue beyond the bias (kernels/epilogue.cuh). */
    public enum Epilogue { NONE, RESIDUAL, GEGLU }

    private static final ThreadLocal<Map<Product, Integer>> SEEN = new ThreadLocal<>();

    /** Starts recording on this thread (from empty). */
    public static void start() { SEEN.set(new LinkedHashMap<>()); }

    /** Stops recording; returns each distinct product with how many times it ran, in first-seen order. */
    public static Map<Product, Integer> stop() {
        Map<Product, Integer> m = SEEN.get();
        SEEN.remove();
        return m == null ? Map.of() : m;
    }

    static boolean on() { return SEEN.get() != null; }

    static void add(Product p) {
        Map<Product, Integer> m = SEEN.get();
        if (m != null) m.merge(p, 1, Integer::sum);
    }

    /** A backend matmul of these operands (as passed: views included). */
    static void matmul(String kind, String pass, Tensor a, Tensor b) {
        if (!on()) return;
        int m = a.size(-2), k = a.size(-1), n = b.size(-1);
        long batch = Math.max(a.numel() / ((long) m * k), b.numel() / ((long) k * n));
        add(Product.gemm(kind, pass, a.dtype(), (int) batch, m, n, k, transposed(a), transposed(b), false, Epilogue.NONE));
    }

    /** linear's forward: x (..., k) w^T, w (n, k) (for GEGLU, n counts the projection's columns). */
    static void linear(Tensor x, Tensor w, boolean bias, Epilogue epilogue) {
        if (!on()) return;
        int k = w.size(1);
        add(Product.gemm("linear", "forward", x.dtype(), 1, (int) (x.numel() / k), w.size(0), k, false, true, bias, epilogue));
    }

    static void conv(String pass, DType dtype, int[] x, int[] w, ConvSpec spec, boolean bias, Epilogue epilogue) {
        if (on()) add(Product.conv(pass, dtype, x, w, spec, bias, epilogue));
    }

    /** A view whose last two dims are swapped relative to row-major storage. */
    private static boolean transposed(Tensor t) {
        return t.dim() >= 2 && t.stride(-1) != 1 && t.stride(-2) == 1;
    }

    private static Integer[] box(int[] a) {
        Integer[] r = new Integer[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }
}
