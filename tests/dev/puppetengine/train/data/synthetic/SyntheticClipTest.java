package dev.puppetengine.train.data.synthetic;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generated clips: reproducibility, drag format, drags on their parts in every frame, visible motion. */
class SyntheticClipTest {
    /** 43 frames of 4096x4096 were generated (hours) into a dataset whose clips no reader takes: more than one array's bytes. */
    @Test
    void aClipTooLargeToReadIsRefusedBeforeGenerating() {
        GeneratorConfig.defaults(4096, 42);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GeneratorConfig.defaults(4096, 43));
        assertEquals("43 frames of 4096x4096: clips of more than 2147483639 RGB bytes, the most one clip may hold", e.getMessage());
    }

    private static final int F = 14;

    private static GeneratorConfig only(SceneKind kind, int size) {
        Map<SceneKind, Double> w = new EnumMap<>(SceneKind.class);
        w.put(kind, 1.0);
        return GeneratorConfig.defaults(size, F).withKindWeights(w);
    }

    private static List<SyntheticClip> clips(GeneratorConfig cfg, long seed, int n) {
        List<SyntheticClip> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(SyntheticClip.generate(seed, i, cfg));
        return out;
    }

    private static boolean isStatic(double[] track) {
        for (int i = 2; i < track.length; i++) if (track[i] != track[i % 2]) return false;
        return true;
    }

    @Test
    void aClipDependsOnlyOnSeedIndexAndConfig() {
        GeneratorConfig cfg = GeneratorConfig.defaults(64, F);
        List<SyntheticClip> forward = clips(cfg, 11, 8);
        List<SyntheticClip> backward = new ArrayList<>();
        for (int i = 7; i >= 0; i--) backward.add(0, SyntheticClip.generate(11, i, cfg));
        for (int i = 0; i < 8; i++) {
            SyntheticClip a = forward.get(i), b = backward.get(i);
            assertArrayEquals(a.rgb(), b.rgb(), "clip " + i);
            assertArrayEquals(a.dragTensor(), b.dragTensor(), "clip " + i);
            assertEquals(a.candidates().size(), b.candidates().size());
            for (int k = 0; k < a.candidates().size(); k++) assertArrayEquals(a.candidates().get(k), b.candidates().get(k));
        }
        assertFalse(Arrays.equals(forward.get(3).rgb(), forward.get(4).rgb()), "neighbouring clips differ");
        assertFalse(Arrays.equals(forward.get(3).rgb(), SyntheticClip.generate(12, 3, cfg).rgb()), "another seed differs");
    }

    @Test
    void allKindsOccurWithDefaultWeights() {
        Set<SceneKind> seen = clips(GeneratorConfig.defaults(32, F), 5, 40).stream().map(c -> c.scene().kind()).collect(Collectors.toSet());
        assertEquals(Set.of(SceneKind.values()), seen);
    }

    /** Tracked points keep 1 px from the image border in every frame, so their 4 neighbours are pixels of the image too. */
    @Test
    void trackedPointsKeepAPixelFromTheBorder() {
        int size = 32;
        for (SyntheticClip c : clips(GeneratorConfig.defaults(size, F), 6, 30))
            for (List<double[]> tracks : List.of(c.candidates(), c.staticCandidates()))
                for (double[] t : tracks)
                    for (double v : t) assertTrue(v >= 1 && v <= size - 2, "clip " + c.index() + ": " + v);
    }

    @Test
    void dragTensorsFollowTheSpecFormat() {
        for (SyntheticClip c : clips(GeneratorConfig.defaults(64, F), 21, 60)) {
            float[] t = c.dragTensor();
            int n = c.drags().size();
            assertTrue(n >= 1 && n <= 5, "clip " + c.index() + ": " + n + " drags");
            assertEquals(F * 5 * 4, t.length);
            for (int f = 0; f < F; f++)
                for (int k = 0; k < 5; k++) {
                    int o = (f * 5 + k) * 4;
                    if (k >= n) {
                        for (int i = 0; i < 4; i++) assertEquals(0f, t[o + i], "clip " + c.index() + " absent slot " + k);
                        continue;
                    }
                    for (int i = 0; i < 4; i++) assertTrue(t[o + i] >= 0 && t[o + i] <= 1, "clip " + c.index() + " value " + t[o + i]);
                    assertEquals(t[k * 4], t[o], "start x is the same in every frame");
                    assertEquals(t[k * 4 + 1], t[o + 1]);
                    if (f == 0) {
                        assertEquals(t[o], t[o + 2], "frame 0 target == start");
                        assertEquals(t[o + 1], t[o + 3]);
                    }
                }
            int moving = (int) c.drags().stream().filter(d -> !isStatic(d)).count();
            assertTrue(moving >= 1, "clip " + c.index() + " has a moving drag");
        }
    }

    /**
     * Every drag sits on one part in every frame of the rasterised id mask: a moving part for moving drags,
     * a static one for still drags. The rounded position must match except for rare edge pixels, where a
     * 4-neighbour must.
     */
    @Test
    void dragsStayOnTheirPartInEveryFrameAtEverySize() {
        int checks = 0, edge = 0;
        for (int size : new int[] {32, 64, 128, 256})
            for (SceneKind kind : SceneKind.values())
                for (SyntheticClip c : clips(only(kind, size).withStaticDragProbability(0.5), size, size == 256 ? 2 : 5)) {
                    byte[] ids = SceneRenderer.renderIds(c.scene());
                    for (double[] d : c.drags()) {
                        String where = size + " px " + kind + " clip " + c.index();
                        int part = ids[(int) Math.round(d[1]) * size + (int) Math.round(d[0])] & 0xff;
                        assertTrue(part > 0, where + ": drag starts on the background");
                        assertEquals(!isStatic(d), c.scene().parts().get(part - 1).moving(), where + ": drag on part " + c.scene().parts().get(part - 1));
                        for (int f = 0; f < F; f++) {
                            int x = (int) Math.round(d[2 * f]), y = (int) Math.round(d[2 * f + 1]);
                            checks++;
                            if (idAt(ids, size, f, x, y) == part) continue;
                            edge++;
                            boolean near = idAt(ids, size, f, x - 1, y) == part || idAt(ids, size, f, x + 1, y) == part
                                    || idAt(ids, size, f, x, y - 1) == part || idAt(ids, size, f, x, y + 1) == part;
                            assertTrue(near, where + ": drag off part " + part + " in frame " + f + " at " + x + "," + y);
                        }
                    }
                }
        assertTrue(edge <= checks / 100, edge + " of " + checks + " positions needed the one-pixel tolerance");
    }

    private static int idAt(byte[] ids, int size, int f, int x, int y) {
        if (x < 0 || y < 0 || x >= size || y >= size) return -1;
        return ids[(f * size + y) * size + x] & 0xff;
    }

    @Test
    void everyKindMovesItsPartsAndLeavesTheBackgroundAlone() {
        int size = 64, n = size * size;
        for (SceneKind kind : SceneKind.values())
            for (SyntheticClip c : clips(only(kind, size), 3, 6)) {
                String where = kind + " clip " + c.index();
                byte[] ids = SceneRenderer.renderIds(c.scene());
                Set<Integer> moving = c.scene().movingParts().stream().map(Part::id).collect(Collectors.toSet());
                assertFalse(moving.isEmpty(), where);
                int x0 = size, y0 = size, x1 = -1, y1 = -1;
                for (int f : new int[] {0, F - 1})
                    for (int i = 0; i < n; i++)
                        if (moving.contains(ids[f * n + i] & 0xff)) {
                            x0 = Math.min(x0, i % size); x1 = Math.max(x1, i % size);
                            y0 = Math.min(y0, i / size); y1 = Math.max(y1, i / size);
                        }
                int changed = 0, box = (x1 - x0 + 1) * (y1 - y0 + 1);
                for (int y = y0; y <= y1; y++)
                    for (int x = x0; x <= x1; x++)
                        if (!samePixel(c.rgb(), (y * size + x) * 3, ((F - 1) * n + y * size + x) * 3)) changed++;
                assertTrue(changed >= box / 20, where + ": only " + changed + " of " + box + " pixels of the moving parts' box change");

                int background = 0;
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++) {
                        if (!farFromObjects(ids, size, x, y)) continue;
                        background++;
                        for (int f = 1; f < F; f++)
                            assertTrue(samePixel(c.rgb(), (y * size + x) * 3, (f * n + y * size + x) * 3), where + ": background pixel " + x + "," + y + " changed");
                    }
                assertTrue(background > n / 10, where + ": " + background + " background pixels");
            }
    }

    private static boolean samePixel(byte[] rgb, int a, int b) {
        return rgb[a] == rgb[b] && rgb[a + 1] == rgb[b + 1] && rgb[a + 2] == rgb[b + 2];
    }

    /** No object covers any pixel within 2 px in any frame (antialiasing reaches less than a pixel beyond the mask). */
    private static boolean farFromObjects(byte[] ids, int size, int x, int y) {
        for (int f = 0; f < F; f++)
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++) {
                    int id = idAt(ids, size, f, x + dx, y + dy);
                    if (id > 0) return false;
                }
        return true;
    }

    /** A drawer translates: its mask's centroid moves exactly as its drags say. */
    @Test
    void drawerMasksMoveAsTheDragsSay() {
        int size = 128, n = size * size, compared = 0;
        for (SyntheticClip c : clips(only(SceneKind.DRAWER, size), 9, 12)) {
            byte[] ids = SceneRenderer.renderIds(c.scene());
            int drawer = c.scene().movingParts().get(0).id();
            double[] c0 = centroid(ids, n, size, 0, drawer), cLast = centroid(ids, n, size, F - 1, drawer);
            if (c0 == null || cLast == null) continue; // the drawer leaves the image: its visible part does not translate
            compared++;
            for (double[] d : c.drags()) {
                if (isStatic(d)) continue;
                assertEquals(cLast[0] - c0[0], d[2 * (F - 1)] - d[0], 0.2, "clip " + c.index() + " x displacement");
                assertEquals(cLast[1] - c0[1], d[2 * (F - 1) + 1] - d[1], 0.2, "clip " + c.index() + " y displacement");
            }
        }
        assertTrue(compared >= 6, compared + " drawers stayed inside the image");
    }

    /** Centroid of the part's mask pixels in frame f, or null when the part touches the image border. */
    private static double[] centroid(byte[] ids, int n, int size, int f, int part) {
        double sx = 0, sy = 0;
        int count = 0;
        for (int i = 0; i < n; i++) {
            if ((ids[f * n + i] & 0xff) != part) continue;
            int x = i % size, y = i / size;
            if (x == 0 || y == 0 || x == size - 1 || y == size - 1) return null;
            sx += x; sy += y; count++;
        }
        return new double[] {sx / count, sy / count};
    }

    @Test
    void staticDragsHoldStillWhenRequestedAndASlotIsFree() {
        int withStatic = 0;
        for (SyntheticClip c : clips(GeneratorConfig.defaults(64, F).withStaticDragProbability(1), 4, 20)) {
            if (c.staticCandidates().isEmpty()) continue;
            double[] last = c.drags().get(c.drags().size() - 1);
            if (isStatic(last)) {
                withStatic++;
                assertArrayEquals(c.staticCandidates().get(0), last, "clip " + c.index());
            } else {
                assertEquals(5, c.drags().size(), "clip " + c.index() + ": no static drag although a slot was free");
            }
        }
        assertTrue(withStatic >= 5, withStatic + " of 20 clips got a static drag");
        for (SyntheticClip c : clips(GeneratorConfig.defaults(64, F).withStaticDragProbability(0), 4, 20))
            assertTrue(c.drags().stream().noneMatch(SyntheticClipTest::isStatic), "clip " + c.index());
    }
}
