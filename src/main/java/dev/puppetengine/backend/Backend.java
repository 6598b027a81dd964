package dev.puppetengine.backend;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Storage;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.function.Supplier;

/**
 * Every operation the engine runs, forward and backward, on one device. No autograd here: the
 * differentiable wrappers in {@code dev.puppetengine.autograd.F} call these and record what backward needs.
 *
 * <p>Conventions: results are new contiguous tensors registered in the current {@link dev.puppetengine.tensor.Scope},
 * in the dtype of the first floating input unless stated; inputs may be strided views. Activations are
 * channels-last. Statistics (norm mean/rstd, attention log-sum-exp) are F32. The CPU backend is the reference:
 * float64 arithmetic whatever the storage dtype, deterministic and independent of the thread count.
 */
public interface Backend extends AutoCloseable {

    String name();

    // ---- memory ---------------------------------------------------------------------------------------

    Storage allocate(DType dtype, long numel);

    default Tensor empty(DType dtype, int... shape) {
        return Tensor.wrap(allocate(dtype, Shape.numel(shape)), shape);
    }

    /** Bytes currently allocated by tensors of this backend, and the peak since {@link #resetPeak()}. */
    long bytesInUse();

    long peakBytes();

    void resetPeak();

    /**
     * Why this backend cannot capture device graphs ({@link #captureGraph}), or null when it can. The CPU cannot:
     * callers that were asked for a graph log this reason and run eagerly.
     */
    default String graphUnavailable() {
        return "the " + name() + " backend has no CUDA graphs (they need --device cuda)";
    }

    /**
     * Captures the device work of {@code body} into a graph without running it; {@link DeviceGraph#replay} runs it.
     * The body must only queue device work: no host transfers (they are refused), no synchronisation, every input it
     * reads from tensors that outlive the graph and whose contents the caller updates before each replay. Its result
     * (and every intermediate) lives in memory reserved for the graph until the graph is closed. Throws (after
     * cleaning up) when the capture fails; the caller can then run the body eagerly.
     */
    default DeviceGraph captureGraph(Supplier<Tensor> body) {
        throw new UnsupportedOperationException(graphUnavailable());
    }

    /** Waits for all queued work (no-op on the CPU). */
    default void synchronize() {}

    /**
     * Milliseconds of the work {@code work} queues, waited for: device time between two events where the backend has
     * them (CUDA: as torch.cuda.Event times PyTorch, so benchmarks compare like with like), else the wall clock.
     */
    default double timeMillis(Runnable work) {
        synchronize();
        long t0 = System.nanoTime();
        work.run();
        synchronize();
        return (System.nanoTime() - t0) / 1e6;
    }

    @Override
    default void close() {}

    // ---- data movement --------------------------------------------------------------------------------

    /** A contiguous copy of {@code x} converted to {@code dtype} (round to nearest even). */
    Tensor copy(Tensor x, DType dtype);

    /** Writes {@code src} into the (possibly strided) view {@code dst} of the same shape, converting dtype. */
    void copyInto(Tensor src, Tensor dst);

    void fill(Tensor dst, double value);

    /** Fills {@code dst} from the Philox stream (seed, offset): element i uses counter offset + i/4. */
    void fillRandom(Tensor dst, RandomKind kind, long seed, long offset);

    /** Concatenation along {@code dim}: one {@link #copyInto} per input into its slot of the result. */
    default Tensor concat(List<Tensor> xs, int dim) {
        if (xs.isEmpty()) throw new IllegalArgumentException("concat of no tensors");
        int[] shape = xs.get(0).shape();
        int d = Shape.dim(dim, shape.length);
        int total = 0;
        for (Tensor x : xs) {
            int[] s = x.shape();
            if (s.length != shape.length) throw new IllegalArgumentException("concat: ranks differ");
            for (int i = 0; i < s.length; i++)
                if (i != d && s[i] != shape[i])
                    throw new IllegalArgumentException("concat along " + d + ": shapes " + Shape.str(shape) + " and " + Shape.str(s) + " differ");
            total += s[d];
        }
        shape[d] = total;
        Tensor out = empty(xs.get(0).dtype(), shape);
        int at = 0;
        for (Tensor x : xs) {
            try (Tensor slot = out.narrow(d, at, x.size(d))) {
                copyInto(x, slot);
            }
            at += x.size(d);
        }
        return out;
    }

    // ---- elementwise ----------------------------------------------------------------------------------

    /** a (op) b with numpy broadcasting. */
    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    Tensor unary(UnaryOp op, Tensor x);

    /** gy * op'(x). */
    Tensor unaryBackward(UnaryOp op, Tensor x, Tensor gy);

    /** x * scale + shift. */
    Tensor affine(Tensor x, double scale, double shift);

    /** min(max(x, lo), hi) as torch.clamp: +-infinity become the bounds, NaN stays NaN. */
    Tensor clamp(Tensor x, double lo, double hi);

    /**
     * {@link #affine} with the coefficients read from the device: {@code x * coef[scaleAt] + (shiftAt < 0 ? 0 : coef[shiftAt])},
     * {@code coef} an F64 vector. The same arithmetic as {@code affine(x, scale, shift)} with those doubles (so the
     * results are bit-identical), but a captured CUDA graph reads the coefficients at replay instead of baking them in.
     * This default reads them to the host (fine for backends without graphs).
     */
    default Tensor affineFrom(Tensor x, Tensor coef, int scaleAt, int shiftAt) {
        double[] c = coef.toDoubleArray();
        return affine(x, c[scaleAt], shiftAt < 0 ? 0 : c[shiftAt]);
    }

    /** In place: y = a * x + b * y (same shapes; y contiguous). Gradient accumulation, EMA, scaling. */
    void axpby(double a, Tensor x, double b, Tensor y);

    /** Sums {@code x} down to {@code shape}, a shape {@code x} broadcasts from (the backward of broadcasting). */
    Tensor sumTo(Tensor x, int[] shape);

    // ---- matrix products ------------------------------------------------------------------------------

    /** (..., M, K) x (..., K, N) with broadcast batch dims; transposes are views. */
    Tensor matmul(Tensor a, Tensor b);

    /** x (..., K) w^T for w (N, K), plus bias (N) when not null. */
    default Tensor linear(Tensor x, Tensor w, Tensor bias) { return linear(x, w, bias, null); }

    /**
     * x (..., K) w^T + bias + residual, the residual (the output's shape, or null) added in the product's epilogue:
     * one rounding to x's dtype after the whole sum, and no pass over memory for the add.
     */
    Tensor linear(Tensor x, Tensor w, Tensor bias, Tensor residual);

    /**
     * GEGLU of a projection, fused: p = x w^T + bias with w (2D, K), then p[..., :D] * gelu(p[..., D:]) (exact erf
     * GELU), rounded once to x's dtype; p never exists at that precision. The forward of {@code geglu(linear(...))}
     * where no gradient is needed.
     */
    Tensor linearGeglu(Tensor x, Tensor w, Tensor bias);

    /** x (N, H, W, Cin), w (Cout, kh, kw, Cin), bias (Cout) or null -> (N, Ho, Wo, Cout). */
    default Tensor conv2d(Tensor x, Tensor w, Tensor bias, ConvSpec spec) { return conv2d(x, w, bias, null, spec); }

    /** {@link #conv2d} plus a residual of the output's shape (or null), added in the epilogue like {@link #linear}'s. */
    Tensor conv2d(Tensor x, Tensor w, Tensor bias, Tensor residual, ConvSpec spec);

    Tensor conv2dBackwardInput(Tensor gy, Tensor w, int[] xShape, ConvSpec spec);

    Tensor conv2dBackwardWeight(Tensor gy, Tensor x, int[] wShape, ConvSpec spec);

    // ---- normalisation and modulation -----------------------------------------------------------------

    /**
     * Group norm of x (N, ..., C): statistics per (sample, group of C/groups contiguous channels) over all
     * middle dims (H, W for 4-D; F, H, W for frame-pooled 5-D). Optional SiLU fused after the affine.
     */
    NormResult groupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, double eps, boolean silu);

    /** Returns {dx, dgamma, dbeta}. */
    Tensor[] groupNormBackward(Tensor x, Tensor gamma, Tensor beta, NormResult saved, int groups, boolean silu, Tensor gy);

    /** Layer norm over the last dim. */
    NormResult layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps);

    Tensor[] layerNormBackward(Tensor x, Tensor gamma, NormResult saved, Tensor gy);

    /**
     * A spatio-temporal resblock's output (spec 3.4) in one pass: x = alpha * a + (1 - alpha) * b, the time mixer's
     * blend (b null: x = a, alpha unused), then the drag FiLM x * (1 + gamma) + beta (gamma and beta null: x itself).
     * alpha has shape [1]; a, b, gamma, beta all a's shape. The blend never exists in memory.
     */
    Tensor blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor beta);

    /** Returns {da, db, dalpha (F32, shape [1]), dgamma, dbeta}: null for an absent input (b: db and dalpha). */
    Tensor[] blendFilmBackward(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor gy);

    /** p (..., 2D) -> p[..., :D] * gelu(p[..., D:]). */
    Tensor geglu(Tensor p);

    Tensor gegluBackward(Tensor p, Tensor gy);

    // ---- attention ------------------------------------------------------------------------------------

    /**
     * softmax(q k^T * scale) v per head. q (Bq, Lq, C), k and v (Bk, Lk, C), heads split C in contiguous
     * slices. Bq must be a multiple of Bk: query batch i reads key/value batch i / (Bq / Bk). That is how
     * all-to-first attention (Bk = videos, Bq = frames) and the temporal cross-attention to frame-0 context
     * (Bk = videos, Bq = videos x pixels) share K/V without copying. Also returns the log-sum-exp (Bq, heads, Lq).
     */
    AttentionResult attention(Tensor q, Tensor k, Tensor v, int heads, double scale);

    /** Returns {dq, dk, dv}; dk/dv accumulate over all query batches that share a key/value batch. */
    Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, AttentionResult saved, Tensor gOut, int heads, double scale);

    // ---- resampling -----------------------------------------------------------------------------------

    /** (N, H, W, C) -> (N, 2H, 2W, C). */
    Tensor upsampleNearest2x(Tensor x);

    Tensor upsampleNearest2xBackward(Tensor gy);

    /**
     * Bilinear samples of feat (N, H, W, C) at points (N, K, 2) given as normalised (u, v) = (x / width,
     * y / height): grid_sample with align_corners=false and border padding -> (N, K, C).
     */
    Tensor gridSamplePoints(Tensor feat, Tensor points);

    Tensor gridSamplePointsBackward(Tensor gy, Tensor points, int[] featShape);

    // ---- optimiser ------------------------------------------------------------------------------------

    /**
     * One Adam/AdamW step over many tensors, in place: params and moments are F32; grads any float type
     * (multiplied by {@code p.gradScale()} first). When {@code lowPrecision} is not null, each updated
     * parameter is also written to its low-precision model copy.
     */
    void adamStep(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, AdamParams p, List<Tensor> lowPrecision);
}
