package dev.puppetengine.cli;

import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.PuppetMaster;
import dev.puppetengine.pipeline.SamplingOptions;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** ./puppet-engine sample: one image and a few drags in, a short video out. */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate a video in which the dragged parts of an image move along the drags.",
                "Drags are start:end pixel positions in the input image (x to the right, y down); the model sees the image's"
                        + " centred square, resized to its resolution. Without --model, the small model shipped in models/toy is used (CPU)."},
        footer = {"", "Example:", "  ./puppet-engine sample --image examples/cabinet.png --drag 110,183:28,194 --out out.gif --overlay"})
final class SampleCommand implements Callable<Integer> {
    @Option(names = "--image", required = true, description = "Input image (PNG, JPEG, BMP, TIFF, GIF first frame); alpha is composited onto white.")
    Path image;

    @Option(names = "--drag", description = "A drag x0,y0:x1,y1 (repeatable, at most 5 in all).")
    List<String> drags = new ArrayList<>();

    @Option(names = "--drags", description = "JSON file of drags: {\"drags\": [{\"start\": [x,y], \"end\": [x,y]} or {\"trajectory\": [[x,y], ...]} with one point per frame (two: start and end)], \"normalized\": false}.")
    Path dragsFile;

    @Option(names = "--normalized", description = "Drag coordinates are in [0,1] of the model's square input, not pixels (a drags file's own \"normalized\" key, when present, governs its drags; a file saying false is refused with --normalized).")
    boolean normalized;

    @Option(names = "--auto-orient", description = InputImages.AUTO_ORIENT_HELP)
    boolean autoOrient;

    /** As typed: its trailing slash, which a Path would drop, asks for a directory of PNG frames. */
    @Option(names = "--out", required = true, description = "Output: file.gif, file.mp4, or a directory/ for PNG frames (replaced whole if it holds only frames; refused if it holds anything else).")
    String out;

    @Mixin
    SamplingArgs sampling;

    @Mixin
    VideoArgs video;

    @Override
    public Integer call() throws Exception {
        video.check();
        SamplingOptions opts = sampling.options(video.frames);
        VideoOutput.Kind kind = VideoOutput.check(out);
        OutputPaths.notInput("--out", Path.of(out), "--image", image, kind == VideoOutput.Kind.PNG_DIR);   // frames replace the directory whole
        RgbImage img;
        try {
            img = InputImages.read(image, autoOrient, System.err::println);
        } catch (IOException e) {
            throw new UserError(Main.message(e));
        }
        List<DragPath> paths = DragArgs.parse(drags, dragsFile, normalized, img.width(), img.height(), video.frames);
        try (PuppetMaster pm = sampling.open()) {   // a bad --model, --device or --dtype is said first, without the note below
            if (paths.isEmpty()) System.err.println("note: no drags given: the model generates its unconditioned motion");
            PuppetMaster.Result r;
            try (ProgressBar bar = ProgressBars.of("sampling", opts.steps(), " steps")) {
                r = pm.sample(img, paths, opts, (done, total) -> bar.stepTo(done));
            }
            if (r.blank()) {   // a black video is not a result: nothing written
                System.err.println("error: " + r.nonFiniteNote() + "; nothing was written");
                return 1;
            }
            if (r.nonFinite() > 0) System.err.println("warning: " + r.nonFiniteNote());
            int written = video.write(Path.of(out), kind, r.frames(), paths);
            PuppetMaster.Timings t = r.timings();
            System.err.printf(Locale.ROOT, "wrote %s (%d frame%s%s)  [preprocess %d ms, clip %d ms, vae encode %d ms, unet %.0f ms/step, vae decode %d ms]%n",
                    out, r.frames().size(), r.frames().size() == 1 ? "" : "s", written > r.frames().size() ? " after " + (written - r.frames().size()) + " overlay frames" : "",
                    t.preprocessMs(), t.clipMs(), t.vaeEncodeMs(), t.unetPerStepMs(), t.vaeDecodeMs());
        }
        return 0;
    }
}
