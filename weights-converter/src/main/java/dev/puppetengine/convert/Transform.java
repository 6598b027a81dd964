package dev.puppetengine.convert;

import dev.puppetengine.tensor.Tensor;

import java.util.Locale;

/**
 * How a stored tensor becomes the checkpoint-layout (diffusers) tensor of one key. Only sgm checkpoints need
 * more than IDENTITY: the VAE attention's 1x1 convs are Linear weights in diffusers (SQUEEZE), open_clip stores
 * the image projection transposed (TRANSPOSE) and q/k/v fused row-wise in in_proj (ROWS, part 0..2 of 3).
 */
record Transform(Kind kind, int part) {
    enum Kind { IDENTITY, SQUEEZE, TRANSPOSE, ROWS }

    static final Transform IDENTITY = new Transform(Kind.IDENTITY, 0), SQUEEZE = new Transform(Kind.SQUEEZE, 0),
            TRANSPOSE = new Transform(Kind.TRANSPOSE, 0);
    static final int FUSED = 3;

    static Transform rows(int part) {
        return new Transform(Kind.ROWS, part);
    }

    /** The stored shape that yields a tensor of {@code target} shape. */
    int[] sourceShape(int[] target) {
        switch (kind) {
            case SQUEEZE: return new int[]{target[0], target[1], 1, 1};
            case TRANSPOSE: return new int[]{target[1], target[0]};
            case ROWS: {
                int[] s = target.clone();
                s[0] *= FUSED;
                return s;
            }
            default: return target.clone();
        }
    }

    /** The target tensor from the stored one (a new tensor or view owned by the current scope). */
    Tensor apply(Tensor src, int[] target) {
        switch (kind) {
            case SQUEEZE: return src.reshape(target);
            case TRANSPOSE: try (Tensor t = src.transpose(0, 1)) { return t.contiguous(); }
            case ROWS: try (Tensor t = src.narrow(0, part * target[0], target[0])) { return t.contiguous(); }
            default: return src.alias();
        }
    }

    @Override
    public String toString() {
        return kind == Kind.ROWS ? "rows " + part + "/" + FUSED : kind.name().toLowerCase(Locale.ROOT);
    }
}
