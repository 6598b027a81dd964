package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output kind --out asks for, from the text as typed. */
class VideoOutputTest {
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
}
