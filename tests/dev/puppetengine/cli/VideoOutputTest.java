package dev.puppetengine.cli;

import dev.puppetengine.io.image.Drag;
import dev.puppetengine.io.image.DragOverlay;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output kind --out asks for, from the text as typed, its checks, and what each kind writes. */
class VideoOutputTest {
    @TempDir
    Path dir;

    @Test
    void aTrailingSlashAsksForFramesWhateverTheName() {
        assertEquals(VideoOutput.Kind.PNG_DIR, VideoOutput.kind("out/frames.v2/"));
        assertEquals(VideoOutput.Kind.PNG_DIR, VideoOutput.kind("clip.gif/"));
        assertEquals(VideoOutput.Kind.PNG_DIR, VideoOutput.kind("frames"));
        assertEquals(VideoOutput.Kind.GIF, VideoOutput.kind("out/Clip.GIF"));
        assertEquals(VideoOutput.Kind.MP4, VideoOutput.kind("clip.mp4"));
        assertTrue(assertThrows(UserError.class, () -> VideoOutput.kind("frames.v2")).getMessage().contains("unsupported output frames.v2"));
    }

    @Test
    void aPathWithoutANameIsRefusedInOneLine() {
        UserError e = assertThrows(UserError.class, () -> VideoOutput.kind("/"));
        assertEquals("unsupported output /: it names no file or directory; use a .gif or .mp4 file, or a directory (ending in /) for PNG frames",
                e.getMessage());
    }

    /** A file kind is checked as a file, frames as a directory that may hold only frames. */
    @Test
    void eachKindIsCheckedAsWhatItWrites() throws IOException {
        Path gifDir = Files.createDirectory(dir.resolve("clip.gif")), full = Files.createDirectory(dir.resolve("full"));
        Files.writeString(full.resolve("notes.txt"), "mine");
        assertEquals(VideoOutput.Kind.GIF, VideoOutput.check(dir.resolve("new.gif").toString()));
        assertEquals(VideoOutput.Kind.MP4, VideoOutput.check(dir.resolve("new.mp4").toString()));
        assertEquals(VideoOutput.Kind.PNG_DIR, VideoOutput.check(dir.resolve("new") + "/"));
        assertEquals("--out " + gifDir + " is a directory; give a file name", assertThrows(UserError.class, () -> VideoOutput.check(gifDir.toString())).getMessage());
        assertTrue(assertThrows(UserError.class, () -> VideoOutput.check(full + "/")).getMessage().contains("holds files other than PNG frames"));
    }

    /** The demo's layout: five copies of frame 0 with the drags drawn at their pixel positions, then the video; a GIF at 1000 / fps ms a frame. */
    @Test
    void theOverlayLeadsTheVideoWithArrowsWhereTheDragsAre() throws IOException {
        List<RgbImage> frames = List.of(solid(64, 200), solid(64, 40));
        List<DragPath> drags = List.of(DragPath.line(0.25, 0.5, 0.75, 0.125), new DragPath(new double[] {0.1, 0.2, 0.9}, new double[] {0.9, 0.5, 0.2}));
        Path out = dir.resolve("frames");
        assertEquals(7, VideoOutput.write(out, VideoOutput.Kind.PNG_DIR, frames, drags, true, 10));
        RgbImage arrows = DragOverlay.draw(frames.get(0), List.of(new Drag(16, 32, 48, 8), new Drag(6.4, 57.6, 57.6, 12.8)));
        for (int i = 0; i < 5; i++) assertArrayEquals(arrows.pixels(), ImageFiles.readRgb(out.resolve("frame_00" + i + ".png")).pixels(), "frame " + i);
        assertArrayEquals(frames.get(1).pixels(), ImageFiles.readRgb(out.resolve("frame_006.png")).pixels());

        Path gif = dir.resolve("v.gif");
        assertEquals(2, VideoOutput.write(gif, VideoOutput.Kind.GIF, frames, drags, false, 8));
        assertEquals(List.of(130, 130), GifFiles.read(gif).delaysMs());   // 1000 / 8 = 125 ms, stored in tens: 130
        Path mp4 = dir.resolve("v.mp4");
        assertEquals(2, VideoOutput.write(mp4, VideoOutput.Kind.MP4, frames, drags, false, 8));
        assertEquals("ftyp", new String(Arrays.copyOfRange(Files.readAllBytes(mp4), 4, 8), StandardCharsets.US_ASCII));
    }

    /** --fps 1 is the slowest rate taken; 0 is refused (sample and sample-batch check it before any work). */
    @Test
    void anFpsOfOneIsTakenAndZeroRefused() {
        VideoArgs v = new VideoArgs();
        v.fps = 1;
        v.check();
        v.fps = 0;
        assertEquals("--fps must be >= 1", assertThrows(UserError.class, v::check).getMessage());
    }

    private static RgbImage solid(int side, int grey) {
        RgbImage img = RgbImage.blank(side, side);
        Arrays.fill(img.pixels(), (byte) grey);
        return img;
    }
}
