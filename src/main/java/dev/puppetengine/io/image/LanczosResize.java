package dev.puppetengine.io.image;

/**
 * {@code PIL.Image.resize(size, Image.LANCZOS)} for 8-bit RGB images, reproduced bit for bit (verified
 * against Pillow 9.4 by {@code LanczosResizeTest}; Pillow-SIMD uses a different fixed-point precision and is
 * not matched).
 *
 * <p>The algorithm (Pillow's libImaging/Resample.c, re-expressed here): a separable convolution, first
 * horizontal then vertical, each pass rounding to uint8. For each output sample the Lanczos-3 window
 * {@code sinc(x) sinc(x/3)} is centred on the source position {@code (i + 0.5) * scale}; when downscaling,
 * the window is stretched by the scale factor (support 3 * scale) so it also low-pass filters. The
 * weights are normalised to sum 1 in double precision, then converted to 22-bit fixed point (rounded half
 * away from zero); each output is {@code clamp((2^21 + sum(pixel * weight)) >> 22, 0, 255)}. A pass whose
 * size does not change is skipped, and the horizontal pass only computes the rows the vertical pass reads.
 */
public final class LanczosResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double SUPPORT = 3.0;

    private LanczosResize() {}

    public static RgbImage resize(RgbImage src, int width, int height) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("target size must be positive, got " + width + "x" + height);
        Weights vertical = Weights.of(src.height(), height);
        byte[] pixels = src.pixels();
        int rowOffset = 0;
        if (width != src.width()) {
            // Only rows [first, last) of the source contribute to any output row.
            int first = vertical.start[0];
            int last = vertical.start[height - 1] + vertical.count[height - 1];
            pixels = horizontal(pixels, src.width(), first, last - first, Weights.of(src.width(), width));
            rowOffset = first;
        }
        if (height != src.height()) {
            pixels = vertical(pixels, width, rowOffset, vertical);
        } else if (pixels == src.pixels()) {
            pixels = pixels.clone();
        }
        return new RgbImage(width, height, pixels);
    }

    /** Resamples rows [firstRow, firstRow + rowCount) of an image {@code inWidth} wide to {@code w.outSize} columns. */
    private static byte[] horizontal(byte[] in, int inWidth, int firstRow, int rowCount, Weights w) {
        int outWidth = w.outSize;
        byte[] out = new byte[rowCount * outWidth * 3];
        for (int y = 0; y < rowCount; y++) {
            int inRow = (firstRow + y) * inWidth * 3;
            for (int x = 0; x < outWidth; x++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                int k = x * w.ksize;
                int p = inRow + w.start[x] * 3;
                for (int i = 0; i < w.count[x]; i++, p += 3) {
                    int c = w.fixed[k + i];
                    s0 += (in[p] & 0xff) * c;
                    s1 += (in[p + 1] & 0xff) * c;
                    s2 += (in[p + 2] & 0xff) * c;
                }
                int o = (y * outWidth + x) * 3;
                out[o] = clip8(s0);
                out[o + 1] = clip8(s1);
                out[o + 2] = clip8(s2);
            }
        }
        return out;
    }

    /** Resamples columns; source row r of the weights is row (r - rowOffset) of {@code in}. */
    private static byte[] vertical(byte[] in, int width, int rowOffset, Weights w) {
        int rowBytes = width * 3;
        byte[] out = new byte[w.outSize * rowBytes];
        for (int y = 0; y < w.outSize; y++) {
            int k = y * w.ksize;
            int firstRow = (w.start[y] - rowOffset) * rowBytes;
            for (int b = 0; b < rowBytes; b++) {
                int s = 1 << (PRECISION_BITS - 1);
                int p = firstRow + b;
                for (int i = 0; i < w.count[y]; i++, p += rowBytes) s += (in[p] & 0xff) * w.fixed[k + i];
                out[y * rowBytes + b] = clip8(s);
            }
        }
        return out;
    }

    private static byte clip8(int v) {
        if (v <= 0) return 0;
        int shifted = v >> PRECISION_BITS;
        return (byte) Math.min(shifted, 255);
    }

    private static double lanczos(double x) {
        return -SUPPORT <= x && x < SUPPORT ? sinc(x) * sinc(x / SUPPORT) : 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        double px = x * Math.PI;
        return StrictMath.sin(px) / px; // fdlibm: the same weights on every JVM
    }

    /** Per output index: the first contributing input index, how many contribute, and their fixed-point weights. */
    private static final class Weights {
        final int outSize;
        final int ksize;
        final int[] start;
        final int[] count;
        final int[] fixed;

        private Weights(int outSize, int ksize) {
            this.outSize = outSize;
            this.ksize = ksize;
            this.start = new int[outSize];
            this.count = new int[outSize];
            this.fixed = new int[outSize * ksize];
        }

        static Weights of(int inSize, int outSize) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = SUPPORT * filterScale;
            double invScale = 1.0 / filterScale; // multiplied, not divided, as Pillow does: the rounding differs
            Weights w = new Weights(outSize, (int) Math.ceil(support) * 2 + 1);
            double[] k = new double[w.ksize];
            for (int o = 0; o < outSize; o++) {
                double center = (o + 0.5) * scale;
                // (int) truncates toward zero in C and Java alike; Pillow rounds with it, so floor would differ.
                int min = Math.max((int) (center - support + 0.5), 0);
                int n = Math.min((int) (center + support + 0.5), inSize) - min;
                double sum = 0.0;
                for (int i = 0; i < n; i++) {
                    k[i] = lanczos((i + min - center + 0.5) * invScale);
                    sum += k[i];
                }
                for (int i = 0; i < n; i++) {
                    double v = sum != 0.0 ? k[i] / sum : k[i];
                    w.fixed[o * w.ksize + i] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
                }
                w.start[o] = min;
                w.count[o] = n;
            }
            return w;
        }
    }
}
