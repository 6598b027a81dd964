package dev.puppetengine.eval;

import dev.puppetengine.io.image.RgbImage;

import java.util.List;
import java.util.function.ToDoubleBiFunction;

/**
 * Appearance metrics of a generated frame against the ground truth, both 8-bit RGB of the same size.
 *
 * <p>PSNR over all three channels: 10 log10(255^2 / MSE), +Infinity for identical images. SSIM (Wang et al.
 * 2004) on luma Y = 0.299 R + 0.587 G + 0.114 B (BT.601, unrounded), an 11 x 11 Gaussian window of sigma
 * 1.5 (normalised to sum 1), K1 = 0.01, K2 = 0.03, L = 255, population (co)variances, averaged over the
 * windows that lie fully inside the image. That is scikit-image's
 * {@code structural_similarity(y1, y2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)}
 * on the luma planes, and the reference MATLAB {@code ssim_index} without its downsampling.
 */
public final class ImageMetrics {
    public static final int SSIM_WINDOW = 11;
    public static final double SSIM_SIGMA = 1.5, SSIM_K1 = 0.01, SSIM_K2 = 0.03;
    private static final double[] GAUSS = gaussian(SSIM_WINDOW, SSIM_SIGMA);

    private ImageMetrics() {}

    public static double psnr(RgbImage a, RgbImage b) {
        sameSize(a, b);
        byte[] p = a.pixels(), q = b.pixels();
        double sse = 0;
        for (int i = 0; i < p.length; i++) {
            int d = (p[i] & 0xff) - (q[i] & 0xff);
            sse += d * d;
        }
        return 10 * Math.log10(255.0 * 255.0 / (sse / p.length));
    }

    public static double ssim(RgbImage a, RgbImage b) {
        sameSize(a, b);
        return ssim(luma(a), luma(b), a.width(), a.height());
    }

    /** SSIM of two single-channel images (row-major, values on the 0..255 scale). */
    public static double ssim(double[] x, double[] y, int w, int h) {
        int n = SSIM_WINDOW;
        if (w < n || h < n) throw new IllegalArgumentException("SSIM needs images of at least " + n + "x" + n + ", got " + w + "x" + h);
        double c1 = Math.pow(SSIM_K1 * 255, 2), c2 = Math.pow(SSIM_K2 * 255, 2);
        double[] xx = new double[x.length], yy = new double[x.length], xy = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            xx[i] = x[i] * x[i];
            yy[i] = y[i] * y[i];
            xy[i] = x[i] * y[i];
        }
        double[] mx = filterValid(x, w, h), my = filterValid(y, w, h);
        double[] sxx = filterValid(xx, w, h), syy = filterValid(yy, w, h), sxy = filterValid(xy, w, h);
        double sum = 0;
        for (int i = 0; i < mx.length; i++) {
            double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cov = sxy[i] - mx[i] * my[i];
            sum += (2 * mx[i] * my[i] + c1) * (2 * cov + c2) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
        }
        return sum / mx.length;
    }

    /** A metric of each frame pair of two videos (frames paired in order). */
    public static double[] perFrame(List<RgbImage> a, List<RgbImage> b, ToDoubleBiFunction<RgbImage, RgbImage> metric) {
        if (a.size() != b.size()) throw new IllegalArgumentException(a.size() + " frames against " + b.size());
        double[] v = new double[a.size()];
        for (int f = 0; f < v.length; f++) v[f] = metric.applyAsDouble(a.get(f), b.get(f));
        return v;
    }

    /** BT.601 luma per pixel, row-major, unrounded. */
    public static double[] luma(RgbImage img) {
        byte[] p = img.pixels();
        double[] y = new double[img.width() * img.height()];
        for (int i = 0; i < y.length; i++) y[i] = 0.299 * (p[3 * i] & 0xff) + 0.587 * (p[3 * i + 1] & 0xff) + 0.114 * (p[3 * i + 2] & 0xff);
        return y;
    }

    /** The separable Gaussian filter at every position where the window fits: (w - 10) x (h - 10) values. */
    private static double[] filterValid(double[] v, int w, int h) {
        int n = SSIM_WINDOW, ow = w - n + 1, oh = h - n + 1;
        double[] rows = new double[ow * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < ow; x++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += GAUSS[k] * v[y * w + x + k];
                rows[y * ow + x] = s;
            }
        double[] out = new double[ow * oh];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += GAUSS[k] * rows[(y + k) * ow + x];
                out[y * ow + x] = s;
            }
        return out;
    }

    private static double[] gaussian(int n, double sigma) {
        double[] g = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += g[i] = Math.exp(-Math.pow(i - n / 2, 2) / (2 * sigma * sigma));
        for (int i = 0; i < n; i++) g[i] /= sum;
        return g;
    }

    private static void sameSize(RgbImage a, RgbImage b) {
        if (a.width() != b.width() || a.height() != b.height())
            throw new IllegalArgumentException("images differ in size: " + a.width() + "x" + a.height() + " vs " + b.width() + "x" + b.height());
    }
}
