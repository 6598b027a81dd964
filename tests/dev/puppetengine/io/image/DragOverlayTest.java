package dev.puppetengine.io.image;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DragOverlayTest {
    private static final RgbImage WHITE = GifFilesTest.solid(256, 256, 255, 255, 255);
    private static final Drag RIGHTWARDS = new Drag(50, 128, 200, 128);

    @Test
    void arrowIsYellowWithBlackOutline() {
        RgbImage out = DragOverlay.draw(WHITE, List.of(RIGHTWARDS));
        assertArrayEquals(new int[] {255, 255, 0}, rgb(out, 120, 128)); // centre of the shaft
        for (int y : new int[] {126, 130}) { // the black outline shows above and below (partly covered pixels)
            int[] px = rgb(out, 120, y);
            assertTrue(px[0] < 200 && px[2] < 200, "outline at y=" + y + ": " + java.util.Arrays.toString(px));
        }
        assertArrayEquals(new int[] {255, 255, 255}, rgb(out, 120, 133)); // clear of the arrow
        assertArrayEquals(new int[] {255, 255, 255}, rgb(out, 30, 128)); // before the start
        // The head's barbs go back from the end point at 45 degrees, 15 px long (10% of 150).
        assertTrue(rgb(out, 193, 121)[2] < 128, "upper barb missing");
        assertTrue(rgb(out, 193, 135)[2] < 128, "lower barb missing");
        assertArrayEquals(new int[] {255, 255, 255}, rgb(WHITE, 120, 128)); // input untouched
    }

    @Test
    void normalisedDragsScaleToTheImage() {
        assertEquals(new Drag(128, 64, 256, 192), Drag.fromNormalised(0.5, 0.25, 1.0, 0.75, 256, 256));
    }

    @Test
    void demoSequenceLeadsWithFiveAnnotatedCopiesOfFrameZero() {
        List<RgbImage> frames = List.of(GifFilesTest.solid(64, 64, 10, 10, 10), GifFilesTest.solid(64, 64, 20, 20, 20));
        List<Drag> drags = List.of(new Drag(10, 10, 50, 40));
        List<RgbImage> seq = DragOverlay.demoSequence(frames, drags);
        assertEquals(DragOverlay.LEAD_IN_FRAMES + 2, seq.size());
        byte[] annotated = DragOverlay.draw(frames.get(0), drags).pixels();
        for (int i = 0; i < DragOverlay.LEAD_IN_FRAMES; i++) assertArrayEquals(annotated, seq.get(i).pixels());
        assertSame(frames.get(0), seq.get(5));
        assertSame(frames.get(1), seq.get(6));
    }

    private static int[] rgb(RgbImage img, int x, int y) {
        return new int[] {img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2)};
    }
}
