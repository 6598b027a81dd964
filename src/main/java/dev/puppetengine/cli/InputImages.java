package dev.puppetengine.cli;

import dev.puppetengine.io.image.ExifOrientation;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** An input image as the model will see it, for sample and sample-batch --dir: its EXIF orientation applied on request, else noted. */
final class InputImages {
    static final String AUTO_ORIENT_HELP = "Turn an input image as its EXIF orientation says (as photo viewers show it) before anything else;"
            + " drags are then positions in the turned image. Without it the stored pixels are used as they are, as the reference does"
            + " (PIL ignores the tag), and an image whose tag says otherwise gets a note.";

    private InputImages() {}

    static RgbImage read(Path file, boolean autoOrient, Consumer<String> note) throws IOException {
        RgbImage img = ImageFiles.readRgb(file);
        int orientation = ExifOrientation.of(file);
        if (orientation == ExifOrientation.NORMAL) return img;
        if (autoOrient) return ExifOrientation.apply(img, orientation);
        // a phone photo shown upright may be stored sideways: drags placed on what a viewer shows would land elsewhere
        note.accept("note: " + file + ": its EXIF orientation says viewers show it " + ExifOrientation.describe(orientation)
                + "; the model sees the stored " + img.width() + "x" + img.height() + " pixels as they are, and drags are positions in them"
                + " (add --auto-orient to use the image as viewers show it)");
        return img;
    }
}
