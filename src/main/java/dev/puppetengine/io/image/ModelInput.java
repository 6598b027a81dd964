package dev.puppetengine.io.image;

/**
 * The conditioning image as the pipeline uses it (spec 1.2 without the optional SAM centring): the image as
 * {@link ImageFiles#readRgb} gives it (alpha composited onto white), made square and LANCZOS-resized to the model
 * resolution (256 for Puppet-Master).
 *
 * <p>Non-square inputs are centre-cropped to a square before resizing. The reference demo instead resizes
 * a non-square image straight to 256 x 256, squashing it, and normalises drags by width and height; a
 * crop keeps the object's proportions. Callers normalise drag points with the same {@link SquareCrop}.
 */
public final class ModelInput {
    private ModelInput() {}

    public static RgbImage prepare(RgbImage image, int size) {
        RgbImage square = SquareCrop.centred(image.width(), image.height()).apply(image);
        return LanczosResize.resize(square, size, size);
    }
}
