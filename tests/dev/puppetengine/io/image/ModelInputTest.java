package dev.puppetengine.io.image;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ModelInputTest {
    @Test
    void centredSquareDropsTheOddPixelAtTheEnd() {
        assertEquals(new SquareCrop(50, 0, 200), SquareCrop.centred(300, 200));
        assertEquals(new SquareCrop(0, 4, 29), SquareCrop.centred(29, 38));
        assertEquals(new SquareCrop(4, 0, 29), SquareCrop.centred(37, 29));
        assertEquals(new SquareCrop(0, 0, 64), SquareCrop.centred(64, 64));
    }

    @Test
    void dragPointsAreNormalisedThroughTheCrop() {
        SquareCrop crop = SquareCrop.centred(300, 200);
        assertArrayEquals(new double[] {0, 0}, crop.normalise(50, 0));
        assertArrayEquals(new double[] {1, 1}, crop.normalise(250, 200));
        assertArrayEquals(new double[] {0.5, 0.25}, crop.normalise(150, 50));
    }

    @Test
    void nonSquareFileIsCroppedAndResizedLikePillow() throws IOException {
        RgbImage expected = ImageFiles.readRgb(Fixtures.path("lanczos/crop_37x29_64x64.png"));
        assertNull(Fixtures.byteDifference(expected, ModelInput.prepare(ImageFiles.readRgb(Fixtures.path("lanczos/in_37x29.png")), 64)));
    }
}
