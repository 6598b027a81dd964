package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.function.IntBinaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MetricsTest {
    private static final double C1 = Math.pow(0.01 * 255, 2), C2 = Math.pow(0.03 * 255, 2);

    /** A grey image (R = G = B, so luma equals the value). */
    static RgbImage grey(int w, int h, IntBinaryOperator value) {
        byte[] p = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                byte v = (byte) value.applyAsInt(x, y);
                p[(y * w + x) * 3] = p[(y * w + x) * 3 + 1] = p[(y * w + x) * 3 + 2] = v;
            }
        return new RgbImage(w, h, p);
    }

    static RgbImage noise(int w, int h, long seed) {
        byte[] p = new byte[w * h * 3];
        new Random(seed).nextBytes(p);
        return new RgbImage(w, h, p);
    }

    @Test
    void psnrHandValues() {
        RgbImage black = RgbImage.blank(2, 2);
        RgbImage oneSample = RgbImage.blank(2, 2);
        oneSample.pixels()[4] = (byte) 255;                 // MSE = 255^2 / 12
        assertEquals(10 * Math.log10(12), ImageMetrics.psnr(black, oneSample), 1e-12);
        assertEquals(20 * Math.log10(51), ImageMetrics.psnr(grey(3, 3, (x, y) -> 100), grey(3, 3, (x, y) -> 105)), 1e-12);  // MSE 25
        assertEquals(Double.POSITIVE_INFINITY, ImageMetrics.psnr(noise(4, 4, 1), noise(4, 4, 1)));
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.psnr(black, RgbImage.blank(2, 3)));
    }

    @Test
    void lumaIsBt601() {
        RgbImage img = new RgbImage(3, 1, new byte[]{(byte) 255, 0, 0, 0, (byte) 255, 0, 0, 0, (byte) 255});
        assertArrayEquals(new double[]{0.299 * 255, 0.587 * 255, 0.114 * 255}, ImageMetrics.luma(img), 1e-12);
    }

    @Test
    void ssimOfIdenticalImagesIsOne() {
        RgbImage a = noise(24, 17, 3);
        assertEquals(1.0, ImageMetrics.ssim(a, a), 1e-12);
    }

    /** Flat images: no variance, so SSIM is the luminance term (2 mx my + C1) / (mx^2 + my^2 + C1) in every window. */
    @Test
    void ssimOfFlatImagesIsTheLuminanceTerm() {
        double expected = (2 * 100 * 150 + C1) / (100 * 100 + 150 * 150 + C1);
        assertEquals(expected, ImageMetrics.ssim(grey(16, 12, (x, y) -> 100), grey(16, 12, (x, y) -> 150)), 1e-12);
    }

    /**
     * One 11x11 window; y differs from the flat x only at the centre pixel (+100), whose weight is g0^2 with
     * g0 = 1 / (1 + 2 sum_{d=1..5} exp(-d^2 / 4.5)). Then my = 100 + 100 w, var y = 100^2 w (1 - w), cov = var x = 0.
     */
    @Test
    void ssimOfOneWindowByHand() {
        double s = 1;
        for (int d = 1; d <= 5; d++) s += 2 * Math.exp(-d * d / 4.5);
        double w = 1 / (s * s), my = 100 + 100 * w, vy = 100 * 100 * w * (1 - w);
        double expected = (2 * 100 * my + C1) / (100 * 100 + my * my + C1) * C2 / (vy + C2);
        RgbImage x = grey(11, 11, (i, j) -> 100), y = grey(11, 11, (i, j) -> i == 5 && j == 5 ? 200 : 100);
        assertEquals(expected, ImageMetrics.ssim(x, y), 1e-12);
    }

    /**
     * Against scikit-image's algorithm (gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
     * data_range=255: scipy gaussian_filter with truncate 3.5, map cropped by 5), computed in numpy on these images.
     */
    @Test
    void ssimMatchesTheScikitImageDefinition() {
        RgbImage x = grey(20, 16, (c, r) -> (r * r * 3 + c * 17) % 256);
        RgbImage y1 = grey(20, 16, (c, r) -> Math.min((r * r * 3 + c * 17) % 256 + (r * c) % 40, 255));
        RgbImage y2 = grey(20, 16, (c, r) -> (r * 11 + c * c * 5) % 256);
        assertEquals(0.9785464646407566, ImageMetrics.ssim(x, y1), 1e-9);
        assertEquals(0.03592384160557939, ImageMetrics.ssim(x, y2), 1e-9);
        assertEquals(22.412551118270812, ImageMetrics.psnr(x, y1), 1e-9);
    }

    @Test
    void ssimNeedsAWholeWindowAndPerFramePairsFrames() {
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(noise(10, 20, 1), noise(10, 20, 2)));
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(noise(20, 10, 1), noise(20, 10, 2)));   // the height too
        assertEquals("images differ in size: 12x12 vs 12x14",
                assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(noise(12, 12, 1), noise(12, 14, 2))).getMessage());
        RgbImage a = noise(12, 12, 1), b = noise(12, 12, 2);
        double[] v = ImageMetrics.perFrame(List.of(a, b), List.of(a, a), ImageMetrics::ssim);
        assertEquals(1.0, v[0], 1e-12);
        assertEquals(ImageMetrics.ssim(b, a), v[1], 1e-15);
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.perFrame(List.of(a), List.of(a, b), ImageMetrics::psnr));
    }

    @Test
    void summaryIsMeanAndSampleStdOfDefinedValues() {
        Summary s = Summary.of(new double[]{1, 2, Double.NaN, 3});
        assertEquals(3, s.n());
        assertEquals(2.0, s.mean(), 1e-15);
        assertEquals(1.0, s.std(), 1e-15);
        assertEquals(0.0, Summary.of(new double[]{5}).std());
        assertEquals(0, Summary.of(new double[]{Double.NaN}).n());
    }
}
