package dev.puppetengine.cli;

import dev.puppetengine.io.image.Animation;
import dev.puppetengine.io.image.Drag;
import dev.puppetengine.io.image.DragOverlay;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.Mp4Files;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Writes frames as .gif, .mp4 or a directory of PNGs, chosen by the path as typed; optionally with the demo's drag arrows. */
final class VideoOutput {
    private VideoOutput() {}

    enum Kind { GIF, MP4, PNG_DIR }

    private static final String USE = "use a .gif or .mp4 file, or a directory (ending in /) for PNG frames";

    /** The kind {@code out} asks for, from the text as typed: a Path drops the trailing slash that asks for a directory. */
    static Kind kind(String out) {
        if (out.isEmpty()) throw new UserError("--out is empty; " + USE);
        Path name = Path.of(out).getFileName();
        if (name == null) throw new UserError("unsupported output " + out + ": it names no file or directory; " + USE);
        String n = name.toString().toLowerCase(Locale.ROOT);
        if (out.endsWith("/") || !n.contains(".")) return Kind.PNG_DIR;
        if (n.endsWith(".gif")) return Kind.GIF;
        if (n.endsWith(".mp4")) return Kind.MP4;
        throw new UserError("unsupported output " + out + ": " + USE);
    }

    /** The output's kind, checked with its path before any work ({@link OutputPaths}). */
    static Kind check(String out) {
        Kind kind = kind(out);
        if (kind == Kind.PNG_DIR) OutputPaths.directory("--out", Path.of(out), true);
        else OutputPaths.file("--out", Path.of(out));
        return kind;
    }

    /** The reference demo's GIF rate (diffusers' export_to_gif default: 100 ms a frame). */
    static final int DEMO_FPS = 10;

    /** Writes the video (after the overlay frames if {@code overlay}); returns the number of frames written. */
    static int write(Path out, Kind kind, List<RgbImage> frames, List<DragPath> drags, boolean overlay, int fps) throws IOException {
        List<RgbImage> f = frames;
        if (overlay) {                       // the demo's layout: five annotated copies of frame 0, then the video
            int side = frames.get(0).width();
            List<Drag> arrows = new ArrayList<>();
            for (DragPath d : drags) {
                double[] e = d.endpointsPixels(side);
                arrows.add(new Drag(e[0], e[1], e[2], e[3]));
            }
            f = DragOverlay.demoSequence(frames, arrows);
        }
        switch (kind) {
            case GIF: GifFiles.write(out, Animation.uniform(f, 1000 / fps)); break;
            case MP4: Mp4Files.write(out, f, fps); break;
            default: ImageFiles.writePngFrames(out, f);
        }
        return f.size();
    }
}
