package dev.puppetengine.model.drag;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything the drag-conditioned layers of one UNet forward need, built once from the drag tensor
 * (B, F, K, 4): per resolution r the raster (B*F, r, r, 6K) and the positional-table samples at each
 * drag's start and current target; the start/target points (B*F, K, 2); and the presence mask (B*F, K, 1)
 * that zeroes tokens of absent drags (which still take part in the softmax, as in the reference).
 */
public final class DragConditioning {
    /** Per-resolution inputs. */
    public record Level(Tensor raster, Tensor posStart, Tensor posTarget) {}

    private final Map<Integer, Level> levels = new HashMap<>();
    private final Tensor start, target, mask;

    private DragConditioning(Tensor start, Tensor target, Tensor mask) {
        this.start = start;
        this.target = target;
        this.mask = mask;
    }

    /**
     * Tensors are created in the current scope, in {@code dtype} on {@code backend}, except the points: they stay in
     * {@code dtype.full()} (F32, or F64): bf16 keeps 8 significant bits, up to 1/512 of the side off, and spec 3.5 samples at
     * the float32 drags (the reference's grid_sample runs in float32 under autocast).
     */
    public static DragConditioning build(float[] drags, int b, int frames, int k, Set<Integer> resolutions, int posDim,
                                         Backend backend, DType dtype) {
        int n = b * frames;
        double[] s = new double[n * k * 2], t = new double[n * k * 2], m = new double[n * k];
        boolean[] present = DragRasterizer.present(drags, b, frames, k);
        for (int i = 0; i < n * k; i++) {
            s[2 * i] = drags[4 * i];
            s[2 * i + 1] = drags[4 * i + 1];
            t[2 * i] = drags[4 * i + 2];
            t[2 * i + 1] = drags[4 * i + 3];
            m[i] = present[(i / (frames * k)) * k + i % k] ? 1 : 0;
        }
        DragConditioning dc = new DragConditioning(Tensor.of(backend, dtype.full(), new int[]{n, k, 2}, s),
                Tensor.of(backend, dtype.full(), new int[]{n, k, 2}, t), Tensor.of(backend, dtype, new int[]{n, k, 1}, m));
        for (int r : resolutions) {
            Tensor raster = Tensor.of(backend, dtype, new int[]{n, r, r, DragRasterizer.CHANNELS_PER_DRAG * k},
                    DragRasterizer.rasterize(drags, b, frames, k, r));
            Tensor table = Tensor.of(backend, dtype, new int[]{1, r, r, posDim}, SinCosTable.table(r, posDim));
            dc.levels.put(r, new Level(raster, samplePoints(table, dc.start), samplePoints(table, dc.target)));
        }
        return dc;
    }

    /** The table (1, r, r, P) at points (N, K, 2), as one batch of N*K points -> (N, K, P). */
    private static Tensor samplePoints(Tensor table, Tensor points) {
        int[] ps = points.shape();
        Tensor flat = points.reshape(1, ps[0] * ps[1], 2);
        Tensor out = table.backend().gridSamplePoints(table, flat);
        return out.reshape(ps[0], ps[1], table.size(3));
    }

    /** The start and current target points (N, K, 2), for tests. */
    Tensor start() { return start; }

    Tensor target() { return target; }

    public Level level(int r) {
        Level l = levels.get(r);
        if (l == null) throw new IllegalStateException("no drag raster built for resolution " + r);
        return l;
    }

    /**
     * The layer context [clip, tokens] (N, 1 + K, X): tokens = mlp([h(start), h(target), pos(start),
     * pos(target)]) from the modulated features h (N, r, r, C), sampled without gradient into h (unless
     * {@code detach} is false), masked.
     */
    public Tensor context(Tensor h, int r, DragTokenMlp mlp, Tensor clipContext, boolean detach) {
        Level lv = level(r);
        Tensor hd = detach ? F.detach(h) : h;
        Tensor in = F.concat(List.of(F.gridSamplePoints(hd, start), F.gridSamplePoints(hd, target), lv.posStart(), lv.posTarget()), 2);
        Tensor tokens = F.mul(mlp.forward(in), mask);
        return F.concat(List.of(clipContext, tokens), 1);
    }
}
