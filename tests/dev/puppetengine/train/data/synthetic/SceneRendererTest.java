package dev.puppetengine.train.data.synthetic;

import org.junit.jupiter.api.Test;

import java.awt.Color;
import java.awt.geom.AffineTransform;
import java.awt.geom.Rectangle2D;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A hand-made scene whose pixels are known: one rectangle of part 3 sliding 2 px right per frame over a plain background. */
class SceneRendererTest {
    private static final int S = 32, BG = 0x204060;
    private static final Color PAINT = new Color(200, 100, 50);

    /** The rectangle covers x in [9.75 + 2f, 20.25 + 2f], y in [8.25, 14.25]: pixel centres 10..20 (+2f), 9..14. */
    private static Scene scene() {
        SceneBuilder b = new SceneBuilder(new SplittableRandom(1), S, 2);
        b.part("a", false);
        b.part("b", false);
        int id = b.part("slider", true);
        b.fill(id, new Rectangle2D.Double(0, 0, 10.5, 6), PAINT, b.poses(f -> AffineTransform.getTranslateInstance(9.75 + 2 * f, 8.25)));
        int[] background = new int[S * S];
        Arrays.fill(background, BG);
        return b.build(SceneKind.DRAWER, background);
    }

    private static int[] rgb(byte[] frames, int f, int x, int y) {
        int o = ((f * S + y) * S + x) * 3;
        return new int[] {frames[o] & 0xff, frames[o + 1] & 0xff, frames[o + 2] & 0xff};
    }

    @Test
    void framesShowThePaintWhereThePoseSaysOverTheBackground() {
        byte[] rgb = SceneRenderer.render(scene());
        int[] paint = {200, 100, 50}, bg = {0x20, 0x40, 0x60};
        assertEquals(Arrays.toString(paint), Arrays.toString(rgb(rgb, 0, 15, 11)), "inside, frame 0");
        assertEquals(Arrays.toString(bg), Arrays.toString(rgb(rgb, 0, 21, 11)), "right of it in frame 0");
        assertEquals(Arrays.toString(paint), Arrays.toString(rgb(rgb, 1, 21, 11)), "there in frame 1, 2 px on");
        for (int f = 0; f < 2; f++) assertEquals(Arrays.toString(bg), Arrays.toString(rgb(rgb, f, 2, 2)), "background, frame " + f);
        // pixel 10 (9.5..10.5) is three quarters covered in frame 0: antialiased, a blend strictly between the two colours
        int red = rgb(rgb, 0, 10, 11)[0];
        assertTrue(red > 0x20 && red < 200, "edge pixel red " + red);
    }

    /** Masks are not antialiased: an edge pixel takes the id of the part over its centre, never a blend of ids. */
    @Test
    void idMasksHoldExactPartIdsUpToTheEdges() {
        byte[] ids = SceneRenderer.renderIds(scene());
        for (int f = 0; f < 2; f++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    boolean inside = x >= 10 + 2 * f && x <= 20 + 2 * f && y >= 9 && y <= 14;
                    assertEquals(inside ? 3 : 0, ids[(f * S + y) * S + x], "frame " + f + " at " + x + "," + y);
                }
    }

    /** Mask pixels are bytes: a 256th part would be drawn as background (id 0), so a scene stops at 255. */
    @Test
    void aSceneHoldsAtMost255Parts() {
        SceneBuilder b = new SceneBuilder(new SplittableRandom(1), S, 2);
        for (int i = 1; i <= 255; i++) assertEquals(i, b.part("p" + i, false));
        assertEquals("more than 255 parts in one scene", assertThrows(IllegalStateException.class, () -> b.part("p256", false)).getMessage());
    }
}
