package dev.puppetengine.cli;

import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.SamplingOptions;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Frame count and video output options of sample and sample-batch (a picocli mixin). */
final class VideoArgs {
    @Option(names = "--frames", defaultValue = "14", description = "Frames to generate, 1 to " + SamplingOptions.MAX_FRAMES + " (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--overlay", description = "Prepend five copies of the first frame with the drags drawn as arrows (as the demo does).")
    boolean overlay;

    @Option(names = "--fps", defaultValue = "" + VideoOutput.DEMO_FPS, description = "Frame rate of the video written (default: ${DEFAULT-VALUE}, the demo's GIFs)."
            + " A GIF plays at most " + GifFiles.MAX_FPS + " fps, the fastest browsers honour: a higher rate gives it " + GifFiles.MAX_FPS + ".")
    int fps;

    void check() {
        if (fps < 1) throw new UserError("--fps must be >= 1");
    }

    /** Returns the number of frames written (the video's, plus the overlay's with --overlay). */
    int write(Path out, VideoOutput.Kind kind, List<RgbImage> video, List<DragPath> drags) throws IOException {
        return VideoOutput.write(out, kind, video, drags, overlay, fps);
    }
}
