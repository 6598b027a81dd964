package dev.puppetengine.io.image;

/**
 * The square region of an image that becomes the model's input: the largest centred square (for an odd
 * excess the extra pixel is dropped at the right or bottom). Drag points clicked on the full image are
 * normalised through the same mapping so they stay on the object.
 */
public record SquareCrop(int left, int top, int side) {
    public SquareCrop {
        if (left < 0 || top < 0 || side <= 0) throw new IllegalArgumentException("bad crop " + side + "x" + side + " at (" + left + "," + top + ")");
    }

    public static SquareCrop centred(int width, int height) {
        int side = Math.min(width, height);
        return new SquareCrop((width - side) / 2, (height - side) / 2, side);
    }

    public RgbImage apply(RgbImage image) {
        return image.crop(left, top, side, side);
    }

    /** A pixel position (x, y) of the full image in the crop's [0, 1] coordinates (can fall outside [0, 1]). */
    public double[] normalise(double x, double y) {
        return new double[] {(x - left) / side, (y - top) / side};
    }
}
