package dev.puppetengine.io.image;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

/**
 * The CLIP image encoder's input (spec 2.10), as SVD's {@code _encode_image} prepares it from a PIL image:
 * pixels to [-1, 1], an antialiased resize to 224 x 224, back to [0, 1], then CLIP's per-channel
 * normalisation. The resize mirrors diffusers' {@code _resize_with_antialiasing} (itself kornia's recipe):
 * a separable Gaussian blur (horizontal, then vertical) with sigma = max((s - 1) / 2, 0.001) per axis for a
 * size ratio s, kernel size max(int(4 sigma), 3) made odd, reflect padding; then bicubic interpolation
 * (A = -0.75) with align_corners=True, as torch's {@code interpolate(mode="bicubic")}, clamping taps at the
 * borders. For 256 to 224 the blur is a near-identity (sigma 0.071).
 *
 * <p>Arithmetic is double precision, rounded to float at the end. The reference runs in float32, so the two
 * agree to float32 rounding, not bit for bit.
 */
public final class ClipPreprocess {
    private static final double[] MEAN = {0.48145466, 0.4578275, 0.40821073};
    private static final double[] STD = {0.26862954, 0.26130258, 0.27577711};
    private static final double CUBIC_A = -0.75;

    private ClipPreprocess() {}

    /** The normalised (size, size, 3) channels-last input for an RGB image of any size (224 for SVD's encoder). */
    public static float[] preprocess(RgbImage image, int size) {
        return preprocess(ImageTensors.toSigned(image), image.height(), image.width(), size);
    }

    private static float[] preprocess(float[] signedHwc, int height, int width, int size) {
        double[] resized = resizeAntialiased(toDouble(signedHwc, height, width), height, width, size, size);
        float[] out = new float[resized.length];
        for (int i = 0; i < resized.length; i++) {
            int c = i % 3;
            out[i] = (float) (((resized[i] + 1.0) / 2.0 - MEAN[c]) / STD[c]);
        }
        return out;
    }

    /** {@link #preprocess(RgbImage, int)} as a (1, size, size, 3) F32 tensor on {@code backend}. */
    public static Tensor toTensor(Backend backend, RgbImage image, int size) {
        return Tensor.of(backend, DType.F32, new int[] {1, size, size, 3}, preprocess(image, size));
    }

    /** Blur then bicubic resize of an (h, w, 3) image to (outH, outW, 3); see the class comment. */
    static double[] resizeAntialiased(double[] hwc, int h, int w, int outH, int outW) {
        double sigmaY = Math.max(((double) h / outH - 1.0) / 2.0, 0.001);
        double sigmaX = Math.max(((double) w / outW - 1.0) / 2.0, 0.001);
        // Every pass filters along the width and transposes, so the next pass works on the other axis.
        double[] x = transpose(alongWidth(hwc, h, w, gaussianTaps(w, sigmaX)), h, w);
        x = transpose(alongWidth(x, w, h, gaussianTaps(h, sigmaY)), w, h);
        x = transpose(alongWidth(x, h, w, bicubicTaps(w, outW)), h, outW);
        return transpose(alongWidth(x, outW, h, bicubicTaps(h, outH)), outW, outH);
    }

    /** For each output position along an axis: which input positions it reads, with which weights. */
    private record Taps(int[][] index, double[][] weight) {
        int size() { return index.length; }
    }

    /** Gaussian blur with reflect padding ("dcb|abcd|cba"), the kernel centred on each pixel. */
    private static Taps gaussianTaps(int n, double sigma) {
        int size = Math.max((int) (4.0 * sigma), 3);
        if (size % 2 == 0) size++;
        int half = size / 2;
        if (half >= n) throw new IllegalArgumentException("image side " + n + " is too small for reflect padding of " + half);
        double[] k = new double[size];
        double sum = 0;
        for (int j = 0; j < size; j++) {
            double d = j - half;
            k[j] = Math.exp(-d * d / (2 * sigma * sigma));
            sum += k[j];
        }
        for (int j = 0; j < size; j++) k[j] /= sum;
        int[][] index = new int[n][size];
        double[][] weight = new double[n][];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < size; j++) {
                int src = Math.abs(i + j - half); // reflect at 0
                index[i][j] = src >= n ? 2 * (n - 1) - src : src; // reflect at n - 1
            }
            weight[i] = k;
        }
        return new Taps(index, weight);
    }

    /** torch's bicubic with align_corners=True: output i samples input position i * (n - 1) / (out - 1). */
    private static Taps bicubicTaps(int n, int out) {
        double scale = out > 1 ? (double) (n - 1) / (out - 1) : 0.0;
        int[][] index = new int[out][4];
        double[][] weight = new double[out][];
        for (int i = 0; i < out; i++) {
            double src = scale * i;
            int base = (int) Math.floor(src);
            double t = src - base;
            for (int j = 0; j < 4; j++) index[i][j] = Math.min(Math.max(base - 1 + j, 0), n - 1);
            weight[i] = new double[] {cubicOuter(t + 1.0), cubicInner(t), cubicInner(1.0 - t), cubicOuter(2.0 - t)};
        }
        return new Taps(index, weight);
    }

    /** Keys' cubic convolution kernel for |x| <= 1. */
    private static double cubicInner(double x) {
        return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
    }

    /** Keys' cubic convolution kernel for 1 < |x| < 2. */
    private static double cubicOuter(double x) {
        return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
    }

    /** Applies {@code taps} along the width of an (h, w, 3) image, giving (h, taps.size(), 3). */
    private static double[] alongWidth(double[] img, int h, int w, Taps taps) {
        int outW = taps.size();
        double[] out = new double[h * outW * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < outW; x++) {
                int[] idx = taps.index()[x];
                double[] wt = taps.weight()[x];
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int j = 0; j < idx.length; j++) s += wt[j] * img[(y * w + idx[j]) * 3 + c];
                    out[(y * outW + x) * 3 + c] = s;
                }
            }
        }
        return out;
    }

    /** (h, w, 3) to (w, h, 3). */
    private static double[] transpose(double[] img, int h, int w) {
        double[] out = new double[img.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) System.arraycopy(img, (y * w + x) * 3, out, (x * h + y) * 3, 3);
        }
        return out;
    }

    private static double[] toDouble(float[] v, int h, int w) {
        if (h <= 0 || w <= 0 || v.length != h * w * 3) {
            throw new IllegalArgumentException("expected an (" + h + ", " + w + ", 3) image, got " + v.length + " values");
        }
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }
}
