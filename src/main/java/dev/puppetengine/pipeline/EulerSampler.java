package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.random.TorchCpuGenerator;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deterministic Euler sampling of the v-prediction UNet over the Karras schedule (spec 5.2), with
 * Puppet-Master's classifier-free guidance (spec 5.3): one UNet call on the batch [conditional,
 * unconditional], the unconditional half with zero image latents, zero CLIP context and zero drags, mixed
 * per frame as v = v_u + g_f (v_c - v_u). Initial noise: what the reference demo draws for the seed
 * ({@code torch.manual_seed(seed); torch.randn(B, F, 4, h, w)}, {@link TorchCpuGenerator}) in the latents'
 * channels-last layout, times sqrt(700^2 + 1): the same on every backend. The sampler's own state (x, the guidance,
 * the x0 and Euler arithmetic) is F32 whatever the UNet computes in (F64 for an F64 UNet): diffusers' scheduler
 * computes each step in fp32 but casts the result back to the UNet's dtype, and the demo's UNet is fp32 anyway; here
 * the state stays F32 between steps too, so a bf16 UNet does not round late, small updates away.
 */
public final class EulerSampler {

    /**
     * Called after each step (for progress bars). An exception it throws stops sampling there and reaches the caller
     * unchanged, with everything the sample allocated freed: one way to cancel (the other: interrupt the thread).
     */
    public interface StepListener {
        /** {@code done} steps of {@code total} ({@link SamplingOptions#steps}) are finished: 1, 2, ..., total, on the sampling thread. */
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
     * normalised. Returns the denoised latents (B, F, h, w, 4) in the scaled space (x 0.18215), in
     * the {@link DType#full} type of the UNet's dtype. Checks for an interrupt before each step: an interrupted thread
     * (e.g. {@code Future.cancel(true)}) gets a {@link CancellationException} there, its interrupt flag left set.
     */
    public Tensor sample(Tensor imageLatents, Tensor clip, Tensor drags, SamplingOptions o, StepListener listener) {
        int b = imageLatents.size(0), h = imageLatents.size(1), w = imageLatents.size(2), c = imageLatents.size(3);
        Backend be = imageLatents.backend();
        DType dt = imageLatents.dtype().full();
        KarrasSchedule sched = new KarrasSchedule(o.steps());
        if (o.cudaGraph()) {
            String why = capturer != null ? null : be.graphUnavailable();
            if (why == null && sched.steps() < 3)
                why = "there are only " + sched.steps() + " steps (the first and the last run eagerly, so a graph needs 3 or more)";
            if (why == null) return sampleCaptured(imageLatents, clip, drags, o, listener, sched);
            LOG.warn("CUDA graph requested but not used, sampling eagerly: {}", why);
        }
        // the memo: host-built constants uploaded once, and what the UNet computes from the drags alone once (Module.stepInvariant)
        try (GradMode.Guard ng = GradMode.noGrad(); Scope outer = Scope.open(); DeviceConstants consts = DeviceConstants.open()) {
            Tensor x = F.scale(initialNoise(be, dt, b, o.frames(), h, w, c, o.seed()), KarrasSchedule.initNoiseSigma());
            Conditions cond = o.cfg() ? Conditions.cfg(imageLatents, clip, drags) : new Conditions(imageLatents, clip, drags);
            Tensor guidance = o.cfg() ? guidanceTensor(be, dt, o) : null;
            for (int i = 0; i < sched.steps(); i++) {
                stopIfInterrupted(i, sched.steps());
                Tensor previous = x;
                try (Scope step = Scope.open()) {
                    x = Scope.escape(step(x, hostScalars(sched, i, guidance != null ? 2 * b : b, be), cond, guidance, o, sched.sigma(i + 1) == 0));
                }
                previous.close();   // else the outer scope would hold every step's latents until the end
                if (listener != null) listener.step(i + 1, sched.steps());
            }
            return Scope.escape(x);
        }
    }

    /** A step takes seconds to minutes, so a cancelled sample stops at the next one instead of running to the end. */
    private static void stopIfInterrupted(int done, int total) {
        if (Thread.currentThread().isInterrupted())
            throw new CancellationException("sampling interrupted after " + done + " of " + total + " steps");
    }

    /**
     * The unit-variance noise sampling starts from (before the x sqrt(700^2 + 1) scale): torch.randn((b, frames, c, h,
     * w)) after torch.manual_seed(seed), as the demo draws it, moved to the latents' channels-last layout (B, F, h, w,
     * c), in {@code dt}. Drawn on the host, so identical on every backend; a new tensor in the current scope.
     */
    public static Tensor initialNoise(Backend be, DType dt, int b, int frames, int h, int w, int c, long seed) {
        float[] torchOrder = new TorchCpuGenerator(seed).normal(Math.multiplyExact(Math.multiplyExact(b * frames, c), h * w));
        float[] x = new float[torchOrder.length];
        int i = 0;
        for (int bf = 0; bf < b * frames; bf++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < h * w; p++) x[(bf * h * w + p) * c + ch] = torchOrder[i++];
        return Tensor.of(be, dt, new int[]{b, frames, h, w, c}, x);
    }

    // ---- the captured path ----------------------------------------------------------------------------

    /** The sigma-derived scalars of step i, in this order: c_in, c_out, c_skip, 1/sigma, next - sigma. */
    private static final int C_IN = 0, C_OUT = 1, C_SKIP = 2, INV_SIGMA = 3, DSIGMA = 4, COEFS = 5;

    private static double[] coefficients(KarrasSchedule sched, int i) {
        double sigma = sched.sigma(i), next = sched.sigma(i + 1);
        // x0 = v * c_out + x * c_skip; x <- x + (x - x0) / sigma * (next - sigma)
        return new double[]{1 / Math.sqrt(sigma * sigma + 1), -sigma / Math.sqrt(sigma * sigma + 1), 1 / (sigma * sigma + 1), 1 / sigma, next - sigma};
    }

    /** Where {@link #step} reads its per-step values: host doubles (eager) or device buffers (a captured graph). */
    private interface StepScalars {
        /** t times scalar {@code which} of {@link #coefficients}. */
        Tensor scale(Tensor t, int which);

        /** c_noise per batch row, F32. */
        Tensor timestep();
    }

    /** The eager step's scalars: host values baked into each op. */
    private static StepScalars hostScalars(KarrasSchedule sched, int i, int batch, Backend be) {
        double[] c = coefficients(sched, i), t = new double[batch];
        Arrays.fill(t, sched.cNoise(i));
        return new StepScalars() {
            public Tensor scale(Tensor x, int which) { return F.scale(x, c[which]); }
            public Tensor timestep() { return Tensor.of(be, DType.F32, new int[]{batch}, t); }
        };
    }

    /**
     * The captured step's inputs: fixed device buffers allocated before the capture (their addresses are in the
     * graph) and refreshed before every step by device-to-device copies on the compute stream (kernels, outside the
     * capture) from tables uploaded once before the loop. x: the current latents; coef: the sigma-derived scalars of
     * {@link #step} (c_in, c_out, c_skip, 1/sigma, next - sigma) as F64; timestep: c_noise per batch row, F32.
     */
    private record StaticInputs(Tensor x, Tensor coef, Tensor timestep, Tensor coefTable, Tensor timestepTable) implements StepScalars {
        public Tensor scale(Tensor t, int which) { return t.backend().affineFrom(t, coef, which, -1); }

        static StaticInputs create(Tensor xInit, KarrasSchedule sched, int batch) {
            Backend be = xInit.backend();
            int n = sched.steps();
            double[] c = new double[n * COEFS], t = new double[n * batch];
            for (int i = 0; i < n; i++) {
                System.arraycopy(coefficients(sched, i), 0, c, i * COEFS, COEFS);
                Arrays.fill(t, i * batch, (i + 1) * batch, sched.cNoise(i));
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
     * {@link #step} on the static buffers. A failed capture is logged
     * and the remaining steps run eagerly.
     */
    private Tensor sampleCaptured(Tensor imageLatents, Tensor clip, Tensor drags, SamplingOptions o, StepListener listener, KarrasSchedule sched) {
        int b = imageLatents.size(0), h = imageLatents.size(1), w = imageLatents.size(2), c = imageLatents.size(3);
        Backend be = imageLatents.backend();
        DType dt = imageLatents.dtype().full();
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
                    stopIfInterrupted(i, sched.steps());
                    boolean last = i == sched.steps() - 1;
                    in.load(x, i);
                    // copied into the static input: else the outer scope would keep every eager step's latents (all of them after a failed capture);
                    // once a graph exists x is its output buffer (the capture step replays at once), which the graph owns
                    if (graph == null) x.close();
                    if (!last && !eagerOnly && graph == null && i > 0) {
                        long before = FlopCount.current();
                        try (DeviceConstants.Freeze f = consts.freeze("CUDA graph capture")) {
                            graph = cap.capture(be, () -> {
                                try (Scope step = Scope.open()) {
                                    return Scope.escape(step(in.x(), in, cond, guidance, o, false));
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
                            x = Scope.escape(step(in.x(), in, cond, guidance, o, last));
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

    /**
     * One Euler v-prediction step (spec 5): CFG batch and per-frame guidance, then x0 and the update (x0 itself when
     * last); x and the arithmetic in the state dtype, the UNet in its own.
     */
    private Tensor step(Tensor x, StepScalars sc, Conditions cond, Tensor guidance, SamplingOptions o, boolean last) {
        int b = x.size(0);
        Tensor xIn = o.scaleInput() ? sc.scale(x, C_IN) : x;   // the UNet casts its inputs to its dtype
        if (guidance != null) xIn = F.concat(List.of(xIn, xIn), 0);
        Tensor v = F.to(unet.forward(new UNetInputs(xIn, sc.timestep(), cond.imageLatents(), cond.clip(), cond.drags(), null), UNetOptions.INFERENCE),
                x.dtype());
        if (guidance != null) {
            Tensor vc = F.narrow(v, 0, 0, b), vu = F.narrow(v, 0, b, b);
            v = F.add(vu, F.mul(F.sub(vc, vu), guidance));
        }
        Tensor x0 = F.add(sc.scale(v, C_OUT), sc.scale(x, C_SKIP));
        if (last) return x0;
        return F.add(x, sc.scale(sc.scale(F.sub(x, x0), INV_SIGMA), DSIGMA));
    }
}
