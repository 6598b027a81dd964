package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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

    /** How a step is captured: the backend's CUDA graphs, or (tests) an emulation. */
    interface GraphCapturer {
        DeviceGraph capture(Backend be, Supplier<Tensor> body);
    }

    private static final Logger LOG = LoggerFactory.getLogger(EulerSampler.class);

    private final UNetSpatioTemporalConditionModel unet;
    private final GraphCapturer capturer;   // null: the backend's own graphs (Backend.captureGraph)

    public EulerSampler(UNetSpatioTemporalConditionModel unet) {
        this(unet, null);
    }

    /** Tests: {@code capturer} replaces the backend's graphs (any backend may then take the captured path). */
    EulerSampler(UNetSpatioTemporalConditionModel unet, GraphCapturer capturer) {
        this.unet = unet;
        this.capturer = capturer;
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
        if (o.cudaGraph()) {
            String why = capturer != null ? null : be.graphUnavailable();
            if (why == null && sched.steps() < 3)
                why = "there are only " + sched.steps() + " steps (the first and the last run eagerly, so a graph needs 3 or more)";
            if (why == null) return sampleCaptured(imageLatents, clip, drags, o, listener, sched);
            LOG.warn("CUDA graph requested but not used, sampling eagerly: {}", why);
        }
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

    // ---- the captured path ----------------------------------------------------------------------------

    /** Per-step coefficients, in this order in {@link StaticInputs#coef}; the same doubles {@link #step} computes. */
    private static final int C_IN = 0, C_OUT = 1, C_SKIP = 2, INV_SIGMA = 3, DSIGMA = 4, COEFS = 5;

    /**
     * The captured step's inputs: fixed device buffers allocated before the capture (their addresses are in the
     * graph) and refreshed before every step by device-to-device copies on the compute stream (kernels, outside the
     * capture) from tables uploaded once before the loop. x: the current latents; coef: the sigma-derived scalars of
     * {@link #step} (c_in, c_out, c_skip, 1/sigma, next - sigma) as F64; timestep: c_noise per batch row, F32.
     */
    private record StaticInputs(Tensor x, Tensor coef, Tensor timestep, Tensor coefTable, Tensor timestepTable) {
        static StaticInputs create(Tensor xInit, KarrasSchedule sched, int batch) {
            Backend be = xInit.backend();
            int n = sched.steps();
            double[] c = new double[n * COEFS], t = new double[n * batch];
            for (int i = 0; i < n; i++) {
                double sigma = sched.sigma(i), next = sched.sigma(i + 1);
                c[i * COEFS + C_IN] = 1 / Math.sqrt(sigma * sigma + 1);
                c[i * COEFS + C_OUT] = -sigma / Math.sqrt(sigma * sigma + 1);
                c[i * COEFS + C_SKIP] = 1 / (sigma * sigma + 1);
                c[i * COEFS + INV_SIGMA] = 1 / sigma;
                c[i * COEFS + DSIGMA] = next - sigma;
                java.util.Arrays.fill(t, i * batch, (i + 1) * batch, sched.cNoise(i));
            }
            return new StaticInputs(be.empty(xInit.dtype(), xInit.shape()), be.empty(DType.F64, COEFS), be.empty(DType.F32, batch),
                    Tensor.of(be, DType.F64, new int[]{n, COEFS}, c), Tensor.of(be, DType.F32, new int[]{n, batch}, t));
        }

        /** Step i's inputs into the static buffers (device copies, queued on the compute stream). */
        void load(Tensor xNow, int i) {
            Backend be = x.backend();
            be.copyInto(xNow, x);
            try (Tensor c = coefTable.narrow(0, i, 1); Tensor cr = c.reshape(COEFS); Tensor t = timestepTable.narrow(0, i, 1);
                 Tensor tr = t.reshape(timestep.size(0))) {
                be.copyInto(cr, coef);
                be.copyInto(tr, timestep);
            }
        }
    }

    /**
     * Step 0 runs eagerly (it loads every kernel module, warms cuBLAS and fills the {@link DeviceConstants} memo with
     * the forward's host-built constants); step 1 is captured once and every later step but the last replays it; the
     * last step (it returns x0, a different computation) runs eagerly. Every step, eager or captured, is
     * {@link #staticStep} on the static buffers, whose arithmetic equals {@link #step}'s. A failed capture is logged
     * and the remaining steps run eagerly.
     */
    private Tensor sampleCaptured(Tensor imageLatents, Tensor clip, Tensor drags, SamplingOptions o, StepListener listener, KarrasSchedule sched) {
        int b = imageLatents.size(0), h = imageLatents.size(1), w = imageLatents.size(2), c = imageLatents.size(3);
        Backend be = imageLatents.backend();
        DType dt = imageLatents.dtype();
        GraphCapturer cap = capturer != null ? capturer : Backend::captureGraph;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope outer = Scope.open(); DeviceConstants consts = DeviceConstants.open()) {
            Tensor x = F.scale(initialNoise(be, dt, b, o.frames(), h, w, c, o.seed()), KarrasSchedule.initNoiseSigma());
            Conditions cond = o.cfg() ? Conditions.cfg(imageLatents, clip, drags) : new Conditions(imageLatents, clip, drags);
            Tensor guidance = o.cfg() ? guidanceTensor(be, dt, o) : null;
            StaticInputs in = StaticInputs.create(x, sched, guidance != null ? 2 * b : b);
            DeviceGraph graph = null;
            boolean eagerOnly = false;
            long stepFlops = 0;
            try {
                for (int i = 0; i < sched.steps(); i++) {
                    boolean last = i == sched.steps() - 1;
                    in.load(x, i);
                    if (!last && !eagerOnly && graph == null && i > 0) {
                        long before = FlopCount.current();
                        try (DeviceConstants.Freeze f = consts.freeze("CUDA graph capture")) {
                            graph = cap.capture(be, () -> {
                                try (Scope step = Scope.open()) {
                                    return Scope.escape(staticStep(in, cond, guidance, o, false));
                                }
                            });
                            LOG.info("UNet step captured in a CUDA graph; replaying it for steps 2..{} of {}", sched.steps() - 1, sched.steps());
                        } catch (RuntimeException e) {
                            eagerOnly = true;
                            LOG.warn("CUDA graph capture of the UNet step failed, sampling the remaining steps eagerly: {}", e.getMessage());
                        }
                        stepFlops = FlopCount.current() - before;
                        FlopCount.adjust(-stepFlops);          // the capture ran nothing; the replays count it
                    }
                    if (graph != null && !last) {
                        graph.replay();
                        FlopCount.adjust(stepFlops);
                        x = graph.output();
                    } else {
                        try (Scope step = Scope.open()) {
                            x = Scope.escape(staticStep(in, cond, guidance, o, last));
                        }
                    }
                    if (listener != null) listener.step(i + 1, sched.steps());
                }
            } finally {
                if (graph != null) graph.close();
            }
            return Scope.escape(x);
        }
    }

    /** {@link #step} reading x, the sigma scalars and the timestep from the static buffers (no host value per step). */
    private Tensor staticStep(StaticInputs in, Conditions cond, Tensor guidance, SamplingOptions o, boolean last) {
        Tensor x = in.x();
        Backend be = x.backend();
        int b = x.size(0);
        Tensor xIn = o.scaleInput() ? be.affineFrom(x, in.coef(), C_IN, -1) : x;
        if (guidance != null) xIn = F.concat(List.of(xIn, xIn), 0);
        Tensor v = unet.forward(new UNetInputs(xIn, in.timestep(), cond.imageLatents(), cond.clip(), cond.drags(), null), UNetOptions.INFERENCE);
        if (guidance != null) {
            Tensor vc = F.narrow(v, 0, 0, b), vu = F.narrow(v, 0, b, b);
            v = F.add(vu, F.mul(F.sub(vc, vu), guidance));
        }
        Tensor x0 = F.add(be.affineFrom(v, in.coef(), C_OUT, -1), be.affineFrom(x, in.coef(), C_SKIP, -1));
        if (last) return x0;
        Tensor d = be.affineFrom(F.sub(x, x0), in.coef(), INV_SIGMA, -1);
        return F.add(x, be.affineFrom(d, in.coef(), DSIGMA, -1));
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
