package dev.puppetengine.io.image;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The conditioning image as the pipeline uses it (spec 1.2 without the optional SAM centring): read,
 * alpha-composite onto white, make square, LANCZOS-resize to the model resolution (256 for Puppet-Master).
 *
 * <p>Non-square inputs are centre-cropped to a square before resizing. The reference demo instead resizes
 * a non-square image straight to 256 x 256, squashing it, and normalises drags by width and height; a
 * crop keeps the object's proportions. Callers normalise drag points with the same {@link SquareCrop}.
 */
public final class ModelInput {
    private ModelInput() {}

    public static RgbImage prepare(Path file, int size) throws IOException {
        return prepare(ImageFiles.readRgb(file), size);
    }

    public static RgbImage prepare(RgbImage image, int size) {
        RgbImage square = SquareCrop.centred(image.width(), image.height()).apply(image);
        return LanczosResize.resize(square, size, size);
    }
}
