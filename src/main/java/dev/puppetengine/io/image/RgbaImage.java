package dev.puppetengine.io.image;

import java.util.Objects;

/** An 8-bit RGBA image (straight, not premultiplied alpha): row-major, 4 interleaved bytes per pixel. */
public final class RgbaImage {
    private final int width;
    private final int height;
    private final byte[] pixels;

    /** Wraps {@code pixels} (not copied), which must hold exactly width * height * 4 bytes. */
    public RgbaImage(int width, int height, byte[] pixels) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        Objects.requireNonNull(pixels, "pixels");
        if (pixels.length != (long) width * height * 4) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGBA image needs " + (long) width * height * 4
                    + " bytes, got " + pixels.length);
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
    }

    /** The backing array (not a copy): index (y * width + x) * 4 + channel. */
    public byte[] pixels() { return pixels; }

    /**
     * Composites onto white exactly as the reference demo (spec 1.2) does with a float32 numpy array:
     * {@code rgb * a / 255 + 255 * (1 - a / 255)}, evaluated left to right in single precision, then
     * truncated to uint8 ({@code astype(np.uint8)}). Opaque pixels come out unchanged. The float32 rounding
     * matters: where rgb*a/255 is an integer, single-precision evaluation can land just below it and
     * truncate one lower, and so must we.
     */
    public RgbImage compositeOntoWhite() {
        byte[] out = new byte[width * height * 3];
        for (int p = 0, q = 0; p < pixels.length; p += 4, q += 3) {
            float a = pixels[p + 3] & 0xff;
            float background = 255f * (1f - a / 255f);
            for (int c = 0; c < 3; c++) {
                float v = (pixels[p + c] & 0xff) * a / 255f + background;
                out[q + c] = (byte) (int) v;
            }
        }
        return new RgbImage(width, height, out);
    }
}
