package dev.puppetengine.pipeline;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

/** What the sampler tests share: a tiny UNet (8 channels, 3 frames, context 16), Philox inputs, two-frame drags. */
final class TinySampling {
    private TinySampling() {}

    static final CpuBackend CPU = CpuBackend.get();

    static UNetSpatioTemporalConditionModel unet() {
        return new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 3, 16));
    }

    /** Standard normal values from the Philox stream (seed, offset 0), F32 on the CPU. */
    static Tensor randn(long seed, int... shape) {
        Tensor t = CPU.empty(DType.F32, shape);
        CPU.fillRandom(t, RandomKind.NORMAL, seed, 0);
        return t;
    }

    /** One drag of 3 frames, (1, 3, 5, 4) normalised start/end slots, moving right by 0.1 per frame. */
    static Tensor drags() {
        double[] d = new double[3 * 5 * 4];
        for (int f = 0; f < 3; f++) { d[f * 20] = 0.3; d[f * 20 + 1] = 0.4; d[f * 20 + 2] = 0.3 + 0.1 * f; d[f * 20 + 3] = 0.4; }
        return Tensor.of(CPU, DType.F32, new int[]{1, 3, 5, 4}, d);
    }
}
