package dev.puppetengine.io.image;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
            assertTrue(px[0] < 200 && px[2] < 200, "outline at y=" + y + ": " + Arrays.toString(px));
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

    /** At 512 high everything doubles: outline 8 px, fill 4 px, the least head 10 px. */
    @Test
    void widthsAndTheLeastHeadScaleWithTheHeight() {
        RgbImage grey = GifFilesTest.solid(512, 512, 128, 128, 128);
        RgbImage out = DragOverlay.draw(grey, List.of(new Drag(100, 256, 400, 256), new Drag(100, 100, 120, 100)));
        assertArrayEquals(new int[] {255, 255, 0}, rgb(out, 250, 257), "fill, 1 px off the centre line");
        assertArrayEquals(new int[] {0, 0, 0}, rgb(out, 250, 259), "outline, 3 px off");
        assertArrayEquals(new int[] {128, 128, 128}, rgb(out, 250, 262), "clear, 6 px off");
        // the short drag (20 px): its head is 10 px, not 10% (2 px): the upper barb runs through (114, 94)
        int[] barb = rgb(out, 114, 94);
        assertTrue(barb[0] > 200 && barb[2] < 60, "upper barb of the short drag: " + Arrays.toString(barb));
    }

    /** Barbs of a diagonal drag, down and to the right: straight up and straight left from the end point. */
    @Test
    void diagonalBarbsPointBackAt45Degrees() {
        RgbImage out = DragOverlay.draw(WHITE, List.of(new Drag(50, 50, 150, 150)));   // head 14.1 px
        assertTrue(rgb(out, 150, 140)[2] < 128, "barb up from the end");
        assertTrue(rgb(out, 140, 150)[2] < 128, "barb left of the end");
        assertArrayEquals(new int[] {255, 255, 255}, rgb(out, 150, 160), "nothing below the end");
        assertArrayEquals(new int[] {255, 255, 255}, rgb(out, 160, 150), "nothing right of the end");
        long blended = 0;   // antialiased: edge pixels mix the colours
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 256; x++) {
                int[] p = rgb(out, x, y);
                boolean pure = Arrays.equals(p, new int[] {255, 255, 255}) || Arrays.equals(p, new int[] {0, 0, 0})
                        || Arrays.equals(p, new int[] {255, 255, 0});
                if (!pure) blended++;
            }
        assertTrue(blended > 50, blended + " blended pixels");
    }

    /** A drag of length 0 is a dot: it has no direction, so no head. */
    @Test
    void aZeroLengthDragHasNoHead() {
        RgbImage out = DragOverlay.draw(WHITE, List.of(new Drag(100, 100, 100, 100)));
        assertTrue(rgb(out, 100, 100)[2] < 128, "the dot");
        for (int[] at : new int[][] {{103, 97}, {103, 103}, {97, 97}, {97, 103}})
            assertArrayEquals(new int[] {255, 255, 255}, rgb(out, at[0], at[1]), "4 px diagonally off: " + at[0] + "," + at[1]);
    }

    @Test
    void noFramesNoSequenceAndADragsLength() {
        String msg = assertThrows(IllegalArgumentException.class, () -> DragOverlay.demoSequence(List.of(), List.of(RIGHTWARDS))).getMessage();
        assertEquals("no frames", msg);
        assertEquals(5.0, new Drag(1, 2, 4, 6).length());
        assertEquals(5.0, new Drag(4, 6, 1, 2).length());
    }

    private static int[] rgb(RgbImage img, int x, int y) {
        return new int[] {img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2)};
    }
}
