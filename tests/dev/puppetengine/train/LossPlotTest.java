package dev.puppetengine.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** log.jsonl as the plot reads it, and where the curve is drawn. */
class LossPlotTest {
    /**
     * Numbers only, the later line winning for a step logged again (a resumed run), sorted by step; a failure line (no loss),
     * a loss or step that is no number, a blank line and a line cut short are no points.
     */
    @Test
    void readKeepsEachStepsLastNumericLoss(@TempDir Path dir) throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), String.join("\n",
                "{\"step\":2,\"loss\":0.5}", "", "{\"step\":1,\"loss\":0.25}", "{\"step\":3,\"loss\":\"x\"}", "{\"step\":3,\"loss\":null}",
                "{\"step\":\"4\",\"loss\":0.1}", "{\"step\":5,\"micro_step\":9,\"error\":\"loss is NaN\"}", "{\"step\":2,\"loss\":0.125}", "{\"step\":6,\"lo"));
        List<double[]> pts = LossPlot.read(log);
        assertEquals(2, pts.size());
        assertArrayEquals(new double[]{1, 0.25}, pts.get(0));
        assertArrayEquals(new double[]{2, 0.125}, pts.get(1));
    }

    /**
     * Two steps, losses 1 and 0.01: the frame spans x 70..780 and y 40..400, the log scale puts loss 1 at the top and 0.01 at
     * the bottom, so the curve (its moving average of 1 step over it) is the diagonal from (70, 40) to (780, 400). write says how
     * many points it drew; a log not there yet is an empty plot.
     */
    @Test
    void theCurveRunsBetweenItsPointsOnALogScale(@TempDir Path dir) throws Exception {
        Path log = Files.writeString(dir.resolve("log.jsonl"), "{\"step\":1,\"loss\":1.0}\n{\"step\":3,\"loss\":0.01}\n");
        Path png = dir.resolve("loss.png");
        assertEquals(2, LossPlot.write(log, png));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(List.of(800, 450), List.of(img.getWidth(), img.getHeight()));
        for (double t : new double[]{0.1, 0.25, 0.5, 0.75, 0.9}) {
            int x = (int) Math.round(70 + t * 710), y = (int) Math.round(40 + t * 360);
            assertTrue(dark(img.getRGB(x, y)), "on the curve at (" + x + ", " + y + "): " + Integer.toHexString(img.getRGB(x, y)));
            assertTrue(!dark(img.getRGB(x, y + 25)) && !dark(img.getRGB(x + 40, y)), "off the curve near (" + x + ", " + y + ")");
        }
        assertEquals(0, LossPlot.write(dir.resolve("none.jsonl"), dir.resolve("empty.png")));
        BufferedImage empty = ImageIO.read(dir.resolve("empty.png").toFile());
        assertTrue(white(empty.getRGB(425, 300)) && !white(empty.getRGB(70, 200)), "an empty frame");   // below its "no steps logged yet"
    }

    /** The moving average's blue, darker than the light curve under it. */
    private static boolean dark(int rgb) {
        int r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;
        return b > r + 60 && r < 120;
    }

    private static boolean white(int rgb) { return (rgb & 0xffffff) == 0xffffff; }

    /**
     * The moving average: over 100 steps it spans 2 (steps / 50), so losses alternating 1 and 0.01 average 0.505 from the
     * second step on, a flat dark line at y = 400 - (log10(0.505) + 2) / 2 x 360 = 93 over the light zigzag. A flat log (every
     * loss 0.3) spans a decade around it: the line at the frame's middle, y = 220.
     */
    @Test
    void theMovingAverageAndAFlatLogAreDrawnWhereTheyBelong(@TempDir Path dir) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int step = 1; step <= 100; step++) lines.append("{\"step\":").append(step).append(",\"loss\":").append(step % 2 == 1 ? "1.0" : "0.01").append("}\n");
        Path log = Files.writeString(dir.resolve("log.jsonl"), lines.toString());
        assertEquals(100, LossPlot.write(log, dir.resolve("avg.png")));
        BufferedImage img = ImageIO.read(dir.resolve("avg.png").toFile());
        int y = (int) Math.round(400 - (Math.log10(0.505) + 2) / 2 * 360);
        for (int x : new int[]{200, 425, 700}) {
            assertTrue(dark(img.getRGB(x, y)), "the average at (" + x + ", " + y + "): " + Integer.toHexString(img.getRGB(x, y)));
            assertTrue(!dark(img.getRGB(x, y + 30)) && !dark(img.getRGB(x, y - 30)), "only there, at x " + x);
        }

        Path flat = Files.writeString(dir.resolve("flat.jsonl"), "{\"step\":1,\"loss\":0.3}\n{\"step\":2,\"loss\":0.3}\n");
        assertEquals(2, LossPlot.write(flat, dir.resolve("flat.png")));
        BufferedImage f = ImageIO.read(dir.resolve("flat.png").toFile());
        for (int x : new int[]{100, 425, 750})
            assertTrue(dark(f.getRGB(x, 220)) && !dark(f.getRGB(x, 200)) && !dark(f.getRGB(x, 240)), "flat at y 220, x " + x);
    }
}
