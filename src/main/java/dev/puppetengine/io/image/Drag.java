package dev.puppetengine.io.image;

/** A drag from a start to an end point, in pixel coordinates of the image it is drawn on. */
public record Drag(double startX, double startY, double endX, double endY) {
    /** A drag given in [0, 1] image coordinates (the model's drag tensor), scaled to a width x height image. */
    public static Drag fromNormalised(double startX, double startY, double endX, double endY, int width, int height) {
        return new Drag(startX * width, startY * height, endX * width, endY * height);
    }

    public double length() {
        return Math.hypot(endX - startX, endY - startY);
    }
}
