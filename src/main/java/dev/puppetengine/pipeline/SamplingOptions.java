package dev.puppetengine.pipeline;

/**
 * Sampling settings with the reference demo's defaults (spec 5.3): 50 Euler steps, guidance ramped per frame
 * from 1.0 at frame 0 to 5.0 at the last frame (classifier-free guidance on iff the last frame's guidance exceeds 1, as
 * spec 5.3 and the reference's {@code sample_from_noise} decide, {@code max_guidance > 1}: a ramp falling to 1 samples
 * the conditional branch alone, unguided), 14
 * frames, seed 0. {@code scaleInput}: feed the UNet x / sqrt(sigma^2 + 1) (inference and SVD, default) or the
 * raw noisy latent (how the public train.py trains, spec 4.2) for models trained that way. {@code cudaGraph}: capture
 * the UNet step in a CUDA graph and replay it (docs/CUDA.md, "CUDA graphs"); off unless {@code -Dpuppet.cuda.graph=true}
 * or asked for (CLI {@code --cuda-graph}); on a backend without graphs the sampler logs why and runs eagerly.
 * Unverified on a GPU so far, hence off by default. Refused: steps outside 1..{@link #MAX_STEPS}, frames outside
 * 1..{@link #MAX_FRAMES}, guidance that is not finite and >= 1, or above {@link #MAX_GUIDANCE}.
 */
public record SamplingOptions(int steps, double guidanceMin, double guidanceMax, long seed, int frames, boolean scaleInput, boolean cudaGraph) {
    /** The system property that turns {@link #cudaGraph} on by default. */
    public static final String CUDA_GRAPH_PROPERTY = "puppet.cuda.graph";

    /** The most steps: 20x the demo's 50 (each is a UNet call), so a mistyped count is refused rather than run for days. */
    public static final int MAX_STEPS = 1000;

    /**
     * The most frames: about 9x Puppet-Master's 14. All frames are decoded in one call, and at 256 px SVD's decoder holds
     * frames x 256^2 x 128 values at full resolution, past the CPU backend's 2^31 elements per tensor from 256 frames on.
     */
    public static final int MAX_FRAMES = 128;

    /**
     * The most guidance: 20x the demo's 5. The sampler holds guidance in F32, where a double past 3.4e38 is infinite, and
     * far below that the guided velocity overflows: a video of NaNs. Well before that the video is noise.
     */
    public static final double MAX_GUIDANCE = 100;

    public SamplingOptions {
        if (steps < 1 || steps > MAX_STEPS) throw new IllegalArgumentException("steps must be >= 1 and <= " + MAX_STEPS + ", got " + steps);
        if (!(guidanceMin >= 1) || !(guidanceMax >= 1) || !Double.isFinite(guidanceMax) || !Double.isFinite(guidanceMin))
            throw new IllegalArgumentException("guidance must be finite and >= 1, got " + guidanceMin + ".." + guidanceMax);
        if (guidanceMin > MAX_GUIDANCE || guidanceMax > MAX_GUIDANCE)
            throw new IllegalArgumentException("guidance must be <= " + MAX_GUIDANCE + ", got " + guidanceMin + ".." + guidanceMax);
        if (frames < 1 || frames > MAX_FRAMES) throw new IllegalArgumentException("frames must be >= 1 and <= " + MAX_FRAMES + ", got " + frames);
    }

    /** {@code cudaGraph} from {@code -Dpuppet.cuda.graph} (default false). */
    public SamplingOptions(int steps, double guidanceMin, double guidanceMax, long seed, int frames, boolean scaleInput) {
        this(steps, guidanceMin, guidanceMax, seed, frames, scaleInput, Boolean.getBoolean(CUDA_GRAPH_PROPERTY));
    }

    /** The demo's settings: 50 steps, guidance 1 -> 5, seed 0, 14 frames, scaled input; cudaGraph from the system property. */
    public static SamplingOptions defaults() {
        return new SamplingOptions(50, 1.0, 5.0, 0, 14, true);
    }

    public SamplingOptions withSteps(int s) { return new SamplingOptions(s, guidanceMin, guidanceMax, seed, frames, scaleInput, cudaGraph); }

    /** The guidance at the last frame (the ramp's end; its start, {@code guidanceMin}, stays). */
    public SamplingOptions withGuidance(double max) { return new SamplingOptions(steps, guidanceMin, max, seed, frames, scaleInput, cudaGraph); }

    public SamplingOptions withSeed(long s) { return new SamplingOptions(steps, guidanceMin, guidanceMax, s, frames, scaleInput, cudaGraph); }

    public SamplingOptions withFrames(int f) { return new SamplingOptions(steps, guidanceMin, guidanceMax, seed, f, scaleInput, cudaGraph); }

    public SamplingOptions withScaleInput(boolean b) { return new SamplingOptions(steps, guidanceMin, guidanceMax, seed, frames, b, cudaGraph); }

    public SamplingOptions withCudaGraph(boolean g) { return new SamplingOptions(steps, guidanceMin, guidanceMax, seed, frames, scaleInput, g); }

    /** Whether classifier-free guidance runs (the UNet batch of two): iff the ramp's end, g_max, exceeds 1 (spec 5.3). */
    public boolean cfg() { return cfg(guidanceMax); }

    /** The rule itself, for a guidance at the last frame (g_max). */
    public static boolean cfg(double guidanceMax) { return guidanceMax > 1; }

    /** Guidance of frame f: linspace(min, max, frames)[f]. */
    public double guidance(int f) {
        return frames == 1 ? guidanceMin : guidanceMin + (guidanceMax - guidanceMin) * f / (frames - 1);
    }
}
