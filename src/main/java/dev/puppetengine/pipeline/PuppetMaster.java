package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.ModelInput;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * The embedded API: load a model directory once, then {@link #sample} videos from an image and drags.
 *
 * <pre>
 * try (PuppetMaster pm = PuppetMaster.load(Path.of("models/toy"), Backends.select("auto"), DType.F32)) {
 *     Result r = pm.sample(image, List.of(DragPath.line(0.4, 0.5, 0.7, 0.5)), SamplingOptions.defaults(), null);
 *     r.frames();   // 14 RGB frames
 * }
 * </pre>
 *
 * Pipeline (spec 1.2): square the image and resize to the model resolution (LANCZOS), CLIP embedding of it,
 * VAE posterior mean (unscaled), the drag tensor, Euler sampling with guidance, decode of all frames in one
 * call, frames to uint8. Not thread-safe: use one instance per thread at a time (it may be loaded on another; instances
 * may share a backend, but not while one of them samples with {@link SamplingOptions#cudaGraph}: a capture refuses
 * other threads' work on its backend). {@link #close} may come from any thread, also while a sample runs (see there).
 * {@link #sample} returns or throws having freed all it allocated; see there for cancelling it.
 */
public final class PuppetMaster implements AutoCloseable {

    /**
     * Stage times in milliseconds (each stage's work finished on the device) and the backend's peak memory during one
     * sample: the backend's, so with instances sampling on one backend at once both include theirs (a stage waits for the
     * device's queued work, whoever queued it), and the peak misses what came before another sample started (each sample
     * resets the backend's peak).
     */
    public record Timings(long preprocessMs, long clipMs, long vaeEncodeMs, long unetTotalMs, int steps, long vaeDecodeMs, long peakBytes) {
        public double unetPerStepMs() { return (double) unetTotalMs / steps; }
    }

    /**
     * A sampled video, all on the heap (nothing to close). {@code frames}: {@link SamplingOptions#frames} 8-bit RGB
     * frames of {@link #resolution()} x {@link #resolution()} pixels, in time order;
     * {@code input}: the image the model was conditioned on (the centre square of the given image, resized to the
     * resolution); {@code nonFinite}: decoded values that were NaN or infinite (drawn black, or clipped), 0 in a
     * healthy run; see {@link #nonFiniteNote()}.
     */
    public record Result(List<RgbImage> frames, RgbImage input, Timings timings, long nonFinite) {
        public Result {
            frames = List.copyOf(frames);   // the caller's to read, not to change under blank()
        }

        /** Every decoded value was NaN or infinite: the frames are blank, not a video. */
        public boolean blank() {
            long values = 0;
            for (RgbImage f : frames) values += f.pixels().length;
            return nonFinite == values;
        }

        /** Null when every decoded value was finite, else what went wrong and what to try. */
        public String nonFiniteNote() {
            if (nonFinite == 0) return null;
            return (blank() ? "every decoded value was" : nonFinite + " decoded values were") + " NaN or infinite: the model's weights or"
                    + " the conditioning are not finite, or a 16-bit dtype overflowed (try bf16 or fp32: --dtype, or the dtype the model is loaded in)";
        }
    }

    private final LoadedModel model;
    private final Backend backend;
    private final DType dtype;
    private boolean closed;   // these two guarded by this: close() may come from another thread while samples run
    private int sampling;

    /** Wraps a loaded model (closing this closes it). */
    public PuppetMaster(LoadedModel model) {
        this.model = model;
        this.backend = model.unetWeights().backend();
        this.dtype = model.unetWeights().dtype();
    }

    /**
     * Loads an engine model directory (its manifest.json and three components) onto {@code backend}, weights converted to
     * {@code dtype} (F32, BF16, F16 or F64). The caller owns the instance: close it to free the weights. A directory that
     * is missing, incomplete or corrupt is refused with an IOException naming the file (an interrupt of the loading
     * thread: ClosedByInterruptException); on any failure nothing stays allocated or open.
     */
    public static PuppetMaster load(Path modelDir, Backend backend, DType dtype) throws IOException {
        return new PuppetMaster(LoadedModel.load(modelDir, backend, dtype));
    }

    /** The loaded components and weights. They belong to this instance: close it, not them. */
    public LoadedModel model() { return model; }

    /** The side of the (square) frames this model generates. */
    public int resolution() { return model.resolution(); }

    /**
     * Samples a video. {@code image} any size (centre-cropped to a square); drags in that square's coordinates (none:
     * an empty list; at most {@link dev.puppetengine.model.drag.DragTensor#SLOTS}; none may start at (0, 0), the drag
     * tensor's empty slot; a trajectory needs one point per frame). Bad arguments, nulls (but {@code listener})
     * included, are refused with an IllegalArgumentException before any work; after {@link #close}, an
     * IllegalStateException. {@code listener} (may be null) is called on this thread after each of the
     * {@link SamplingOptions#steps} UNet steps; the decode that follows the last is not reported. To cancel,
     * interrupt the thread (a CancellationException before the next step, or at once when interrupted before the call;
     * the interrupt flag left set) or throw from {@code listener} (that exception, unchanged); either way the sample's
     * memory is freed and the instance can sample again.
     */
    public Result sample(RgbImage image, List<DragPath> drags, SamplingOptions o, EulerSampler.StepListener listener) {
        return sample(image, null, drags, o, listener);
    }

    /**
     * Whether sampling with {@code o} scales the UNet's input by c_in: unless the options say not to, or the model was
     * trained on the unscaled noisy latent (its manifest's unet_input), which it must then be sampled on.
     */
    public boolean scalesInput(SamplingOptions o) {
        return o.scaleInput() && model.manifest.scalesUNetInput();
    }

    /**
     * As above, conditioned on {@code given} (frame 0's latent and embedding, e.g. a DragAMove test batch's) instead
     * of encoding {@code image}, which is then only the video's input frame; null encodes the image.
     */
    public Result sample(RgbImage image, Conditioning given, List<DragPath> drags, SamplingOptions o, EulerSampler.StepListener listener) {
        begin();
        try {
            return sampleOpen(image, given, drags, o, listener);
        } finally {
            end();
        }
    }

    private Result sampleOpen(RgbImage image, Conditioning given, List<DragPath> drags, SamplingOptions o, EulerSampler.StepListener listener) {
        required(image, "image is null (the input image)");
        required(drags, "drags is null (List.of() for none)");
        for (int k = 0; k < drags.size(); k++) required(drags.get(k), "drag " + k + " is null");
        required(o, "options is null (SamplingOptions.defaults() are the demo's)");
        int frames = o.frames(), side = resolution();
        if (given != null) checkFits(given);
        if (Thread.currentThread().isInterrupted())   // cancelled already: not even the encoders run
            throw new CancellationException("sampling interrupted before it began");
        backend.resetPeak();
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            long t0 = System.nanoTime();
            RgbImage input = ModelInput.prepare(image, side);
            Tensor pixels = F.to(ImageTensors.toTensor(backend, List.of(input)), dtype);
            Tensor clipIn = F.to(ClipPreprocess.toTensor(backend, input, model.clip.config().imageSize()), dtype);
            float[] d = DragPath.tensor(drags, frames);
            Tensor dragTensor = Tensor.of(backend, DType.F32, new int[]{1, frames, DragTensor.SLOTS, 4}, d);   // read on the host: kept exact
            long t1 = stageEnd();
            Tensor emb = given == null ? model.clip.embed(clipIn) : Tensor.of(backend, dtype, new int[]{1, given.embedding().length}, given.embedding());
            Tensor context = F.reshape(emb, 1, 1, emb.size(1));
            long t2 = stageEnd();
            Tensor z = given == null ? model.vae.encodeMean(pixels) : Tensor.of(backend, dtype, new int[]{1, given.side(), given.side(), given.channels()},
                    given.latent());
            long t3 = stageEnd();
            Tensor latents = new EulerSampler(model.unet).sample(z, context, dragTensor, o.withScaleInput(scalesInput(o)), listener);
            long t4 = stageEnd();
            int[] s = latents.shape();
            Tensor scaled = F.scale(F.reshape(latents, s[0] * s[1], s[2], s[3], s[4]), 1 / model.vae.scalingFactor());   // decode casts to the VAE's dtype
            Tensor video = model.vae.decode(scaled, frames);
            double[] values = video.toDoubleArray();
            List<RgbImage> out = ImageTensors.toImages(values, video.shape());
            long nonFinite = 0;
            for (double v : values) if (!Double.isFinite(v)) nonFinite++;
            long t5 = stageEnd();
            Timings tm = new Timings(ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3), o.steps(), ms(t5 - t4), backend.peakBytes());
            return new Result(out, input, tm, nonFinite);
        }
    }

    /** Refuses conditioning this model cannot take: latent side and channels, embedding width. */
    public void checkFits(Conditioning c) {
        int side = resolution() / model.vae.config().downscaleFactor(), ch = model.unet.config().inChannels() / 2, x = model.unet.config().crossAttentionDim();
        if (c.side() != side || c.channels() != ch || c.embedding().length != x)
            throw new IllegalArgumentException("precomputed conditioning is a " + c.side() + "x" + c.side() + "x" + c.channels() + " latent and a "
                    + c.embedding().length + "-wide embedding; this model takes " + side + "x" + side + "x" + ch + " and " + x
                    + " (the DragAMove batches are the full-size SVD's: use a converted Puppet-Master model)");
    }

    /** A null argument is the caller's mistake, refused before any work (not an NPE from deep in the pipeline). */
    private static void required(Object argument, String message) {
        if (argument == null) throw new IllegalArgumentException(message);
    }

    private static long ms(long nanos) { return nanos / 1_000_000; }

    /** Now, once the backend has run what the stage queued: a device's ops return before they run (CUDA). */
    private long stageEnd() {
        backend.synchronize();
        return System.nanoTime();
    }

    private synchronized void begin() {
        if (closed) throw new IllegalStateException("this PuppetMaster is closed (its model's weights were freed)");
        sampling++;
    }

    private void end() {
        boolean free;
        synchronized (this) { free = --sampling == 0 && closed; }
        if (free) model.close();
    }

    /**
     * Refuses new samples and frees the model's weights: now, or when the last sample running on another thread (or
     * in a listener's call) returns, so that a close during a sample never frees weights it is still reading. Closing
     * again does nothing.
     */
    @Override
    public void close() {
        boolean free;
        synchronized (this) {
            if (closed) return;
            closed = true;
            free = sampling == 0;
        }
        if (free) model.close();
    }
}
