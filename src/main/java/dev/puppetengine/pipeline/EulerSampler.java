package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.List;

/**
 * Deterministic Euler sampling of the v-prediction UNet over the Karras schedule (spec 5.2), with
 * Puppet-Master's classifier-free guidance (spec 5.3): one UNet call on the batch [conditional,
 * unconditional], the unconditional half with zero image latents, zero CLIP context and zero drags, mixed
 * per frame as v = v_u + g_f (v_c - v_u). Initial noise: the Philox normal stream (seed, offset 0) in the
 * latents' channels-last layout, times sqrt(700^2 + 1): the same on every backend.
 */
public final class EulerSampler {

    /** Called after each step (for progress bars). */
    public interface StepListener {
        void step(int done, int total);
    }

    private final UNetSpatioTemporalConditionModel unet;

    public EulerSampler(UNetSpatioTemporalConditionModel unet) {
        this.unet = unet;
    }

    /**
     * imageLatents (B, h, w, 4) unscaled VAE mean of the first frame; clip (B, L, X); drags (B, F, K, 4)
     * normalised. Returns the denoised latents (B, F, h, w, 4) in the scaled space (x 0.18215).
     */
    public Tensor sample(Tensor imageLatents, Tensor clip, Tensor drags, SamplingOptions o, StepListener listener) {
        int b = imageLatents.size(0), h = imageLatents.size(1), w = imageLatents.size(2), c = imageLatents.size(3);
        Backend be = imageLatents.backend();
        DType dt = imageLatents.dtype();
        KarrasSchedule sched = new KarrasSchedule(o.steps());
        try (GradMode.Guard ng = GradMode.noGrad(); Scope outer = Scope.open()) {
            Tensor x = F.scale(initialNoise(be, dt, b, o.frames(), h, w, c, o.seed()), KarrasSchedule.initNoiseSigma());
            Conditions cond = o.cfg() ? Conditions.cfg(imageLatents, clip, drags) : new Conditions(imageLatents, clip, drags);
            Tensor guidance = o.cfg() ? guidanceTensor(be, dt, o) : null;
            for (int i = 0; i < sched.steps(); i++) {
                try (Scope step = Scope.open()) {
                    x = Scope.escape(step(x, i, sched, cond, guidance, o));
                }
                if (listener != null) listener.step(i + 1, sched.steps());
            }
            return Scope.escape(x);
        }
    }

    /**
     * The unit-variance noise sampling starts from (before the x sqrt(700^2 + 1) scale): the Philox normal stream
     * (seed, offset 0) in the latents' channels-last layout (B, F, h, w, c), in {@code dt}. Bit-identical on every
     * backend (the GPU parity test checks it); a new tensor in the current scope.
     */
    public static Tensor initialNoise(Backend be, DType dt, int b, int frames, int h, int w, int c, long seed) {
        Tensor x = be.empty(dt, b, frames, h, w, c);
        be.fillRandom(x, RandomKind.NORMAL, seed, 0);
        return x;
    }

    /** Latents, context and drags of the UNet batch: [cond] or [cond, uncond]. */
    private record Conditions(Tensor imageLatents, Tensor clip, Tensor drags) {
        static Conditions cfg(Tensor z, Tensor clip, Tensor drags) {
            Backend be = z.backend();
            return new Conditions(F.concat(List.of(z, Tensor.zeros(be, z.dtype(), z.shape())), 0),
                    F.concat(List.of(clip, Tensor.zeros(be, clip.dtype(), clip.shape())), 0),
                    drags == null ? null : F.concat(List.of(drags, Tensor.zeros(be, drags.dtype(), drags.shape())), 0));
        }
    }

    private static Tensor guidanceTensor(Backend be, DType dt, SamplingOptions o) {
        double[] g = new double[o.frames()];
        for (int f = 0; f < g.length; f++) g[f] = o.guidance(f);
        return Tensor.of(be, dt, new int[]{1, o.frames(), 1, 1, 1}, g);
    }

    private Tensor step(Tensor x, int i, KarrasSchedule sched, Conditions cond, Tensor guidance, SamplingOptions o) {
        double sigma = sched.sigma(i), next = sched.sigma(i + 1);
        int b = x.size(0);
        Tensor xIn = o.scaleInput() ? F.scale(x, 1 / Math.sqrt(sigma * sigma + 1)) : x;
        int batch = guidance != null ? 2 * b : b;
        if (guidance != null) xIn = F.concat(List.of(xIn, xIn), 0);
        double[] t = new double[batch];
        java.util.Arrays.fill(t, sched.cNoise(i));
        Tensor timestep = Tensor.of(x.backend(), DType.F32, new int[]{batch}, t);
        Tensor v = unet.forward(new UNetInputs(xIn, timestep, cond.imageLatents(), cond.clip(), cond.drags(), null), UNetOptions.INFERENCE);
        if (guidance != null) {
            Tensor vc = F.narrow(v, 0, 0, b), vu = F.narrow(v, 0, b, b);
            v = F.add(vu, F.mul(F.sub(vc, vu), guidance));
        }
        // x0 = v * (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1); x <- x + (x - x0) / sigma * (next - sigma)
        Tensor x0 = F.add(F.scale(v, -sigma / Math.sqrt(sigma * sigma + 1)), F.scale(x, 1 / (sigma * sigma + 1)));
        if (next == 0) return x0;
        Tensor d = F.scale(F.sub(x, x0), 1 / sigma);
        return F.add(x, F.scale(d, next - sigma));
    }
}
