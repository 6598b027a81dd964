package dev.puppetengine.nn;

import dev.puppetengine.tensor.Tensor;

/**
 * How a parameter's checkpoint (PyTorch) layout maps to the engine's. Convolution weights are channels-last
 * in the engine, (Cout, kh, kw, Cin), so implicit-GEMM convolution reads the reduction dim contiguously;
 * checkpoints store (Cout, Cin, kh, kw) and the temporal conv (Cout, Cin, 3, 1, 1).
 */
public enum Layout {
    PLAIN, CONV2D, CONV3D_TEMPORAL;

    /** The checkpoint shape of a parameter whose engine shape is {@code s}. */
    public int[] checkpointShape(int[] s) {
        switch (this) {
            case CONV2D: return new int[]{s[0], s[3], s[1], s[2]};
            case CONV3D_TEMPORAL: return new int[]{s[0], s[3], s[1], s[2], 1};
            default: return s.clone();
        }
    }

    /** A contiguous engine-layout copy of a checkpoint-layout tensor. */
    public Tensor toEngine(Tensor ckpt) {
        switch (this) {
            case CONV2D:
                try (Tensor p = ckpt.permute(0, 2, 3, 1)) { return p.contiguous(); }
            case CONV3D_TEMPORAL:
                try (Tensor p = ckpt.permute(0, 2, 3, 4, 1); Tensor c = p.contiguous()) {
                    int[] s = c.shape();
                    return c.reshape(s[0], s[1], s[2], s[4]);
                }
            default:
                return ckpt.contiguous();
        }
    }

    /** A contiguous checkpoint-layout copy of an engine-layout tensor. */
    public Tensor toCheckpoint(Tensor engine) {
        switch (this) {
            case CONV2D:
                try (Tensor p = engine.permute(0, 3, 1, 2)) { return p.contiguous(); }
            case CONV3D_TEMPORAL:
                try (Tensor p = engine.permute(0, 3, 1, 2); Tensor c = p.contiguous()) {
                    int[] s = c.shape();
                    return c.reshape(s[0], s[1], s[2], s[3], 1);
                }
            default:
                return engine.contiguous();
        }
    }
}
