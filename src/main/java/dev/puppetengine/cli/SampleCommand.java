package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** ./puppet-engine sample: one image and a few drags in, a short video out. */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate a video in which the dragged parts of an image move along the drags.",
                "Drags are start:end pixel positions in the input image (x to the right, y down); the model sees the image's",
                "centred square, resized to its resolution. Without --model, the small model shipped in models/toy is used (CPU)."},
        footer = {"", "Example:", "  ./puppet-engine sample --image examples/cabinet.png --drag 22,34:40,34 --out out.gif --overlay"})
final class SampleCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Engine model directory (default: the shipped models/toy).")
    Path model;

    @Option(names = "--image", required = true, description = "Input image (PNG, JPEG, BMP, GIF first frame); alpha is composited onto white.")
    Path image;

    @Option(names = "--drag", description = "A drag x0,y0:x1,y1 (repeatable, at most 5 in all).")
    List<String> drags = new ArrayList<>();

    @Option(names = "--drags", description = "JSON file of drags: {\"drags\": [{\"start\": [x,y], \"end\": [x,y]} or {\"trajectory\": [[x,y], ...]}], \"normalized\": false}.")
    Path dragsFile;

    @Option(names = "--normalized", description = "Drag coordinates are in [0,1] of the model's square input, not pixels.")
    boolean normalized;

    @Option(names = "--out", required = true, description = "Output: file.gif, file.mp4, or a directory/ for PNG frames.")
    Path out;

    @Option(names = "--steps", defaultValue = "50", description = "Euler steps (default: ${DEFAULT-VALUE}; the reference previews use 25).")
    int steps;

    @Option(names = "--guidance", defaultValue = "5.0", description = "Guidance at the last frame; it ramps from --guidance-min at frame 0 (default: ${DEFAULT-VALUE}; 1 disables CFG).")
    double guidance;

    @Option(names = "--guidance-min", defaultValue = "1.0", description = "Guidance at frame 0 (default: ${DEFAULT-VALUE}).")
    double guidanceMin;

    @Option(names = "--seed", defaultValue = "0", description = "Noise seed: the same seed gives the same video (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--frames", defaultValue = "14", description = "Frames to generate (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", defaultValue = "fp32", description = "Compute dtype: fp32, bf16 or fp16 (CUDA) (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--overlay", description = "Prepend five copies of the first frame with the drags drawn as arrows (as the demo does).")
    boolean overlay;

    @Option(names = "--fps", defaultValue = "7", description = "Frame rate of the GIF/MP4 (default: ${DEFAULT-VALUE}).")
    int fps;

    @Option(names = "--unscaled-input", description = "Feed the UNet the unscaled noisy latent (for models trained like the public train.py, spec 4.2).")
    boolean unscaledInput;

    @Override
    public Integer call() throws Exception {
        if (fps < 1) throw new UserError("--fps must be >= 1");
        SamplingOptions opts;
        try {
            opts = new SamplingOptions(steps, guidanceMin, guidance, seed, frames, !unscaledInput);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        VideoOutput.kind(out);
        RgbImage img;
        try {
            img = ImageFiles.readRgb(image);
        } catch (IOException e) {
            throw new UserError(e.getMessage());
        }
        List<DragPath> paths = DragArgs.parse(drags, dragsFile, normalized, img.width(), img.height(), frames);
        if (paths.isEmpty()) System.err.println("note: no drags given: the model generates its unconditioned motion");
        Path dir = model != null ? model : EngineHome.defaultModel();
        Backend backend = Devices.select(device);
        try (PuppetMaster pm = new PuppetMaster(loadModel(dir, backend, DType.parse(dtype)))) {
            String kind = pm.model().manifest.kind();
            if (kind.endsWith("-random"))
                System.err.println("warning: model '" + kind + "' at " + dir + " has untrained random weights: expect noise, not motion");
            System.err.printf("model %s (%s, %dx%d), %d steps, guidance %.2f..%.2f, seed %d, %s%n", dir, kind, pm.resolution(), pm.resolution(),
                    steps, guidanceMin, guidance, seed, backend.name());
            PuppetMaster.Result r;
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("sampling").setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).showSpeed().setUnit(" steps", 1).build()) {
                r = pm.sample(img, paths, opts, (done, total) -> bar.stepTo(done));
            }
            if (out.getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
            VideoOutput.write(out, r.frames(), paths, overlay, fps);
            PuppetMaster.Timings t = r.timings();
            System.err.printf("wrote %s (%d frames)  [preprocess %d ms, clip %d ms, vae encode %d ms, unet %.0f ms/step, vae decode %d ms]%n",
                    out, r.frames().size(), t.preprocessMs(), t.clipMs(), t.vaeEncodeMs(), t.unetPerStepMs(), t.vaeDecodeMs());
        }
        return 0;
    }

    /** Loads a model directory; its problems become one-line user errors. */
    static dev.puppetengine.pipeline.LoadedModel loadModel(Path dir, Backend backend, DType dtype) throws IOException {
        try {
            return dev.puppetengine.pipeline.LoadedModel.load(dir, backend, dtype);
        } catch (CheckpointException e) {
            throw new UserError(e.getMessage());
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UserError("model directory " + dir + ": missing file " + e.getFile());
        }
    }
}
