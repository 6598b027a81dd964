package dev.puppetengine.io.image;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ImageTensorsTest {
    @Test
    void imagesBecomeChannelsLastSignedTensor() {
        RgbImage a = new RgbImage(2, 1, new byte[] {0, (byte) 255, (byte) 128, 1, 2, 3});
        RgbImage b = new RgbImage(2, 1, new byte[6]);
        try (Scope s = Scope.open()) {
            Tensor t = ImageTensors.toTensor(CpuBackend.get(), List.of(a, b));
            assertArrayEquals(new int[] {2, 1, 2, 3}, t.shape());
            assertEquals(DType.F32, t.dtype());
            float[] v = t.toFloatArray();
            assertEquals(-1f, v[0]);
            assertEquals(1f, v[1]);
            assertEquals(128f / 255f * 2f - 1f, v[2]);
            assertEquals(-1f, v[11]);
        }
    }

    @Test
    void postProcessingMatchesNumpyIncludingHalfEvenRounding() {
        // Expected values from numpy float32: (clip(x / 2 + 0.5, 0, 1) * 255).round().astype(uint8).
        float[] x = {-1.5f, -1f, -0.99f, -0.5f, 0f, 0.25f, 0.5f, 0.999f, 1f, 1.7f, -0.9803922176361084f, 0.0117647061124444f,
                0.501960813999176f, 0.9647058248519897f, 0.16470590233802795f, 0.219607874751091f};
        int[] expected = {0, 0, 1, 64, 128, 159, 191, 255, 255, 255, 2, 129, 192, 250, 148, 156};
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.of(CpuBackend.get(), DType.F32, new int[] {1, 1, x.length / 3 + 1, 3}, Arrays.copyOf(x, 18));
            RgbImage img = ImageTensors.toImages(t).get(0);
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], img.pixels()[i] & 0xff, "x = " + x[i]);
        }
    }

    @Test
    void everyByteSurvivesARoundTripInAnyFloatType() {
        byte[] all = new byte[256 * 3];
        for (int i = 0; i < all.length; i++) all[i] = (byte) (i / 3);
        RgbImage img = new RgbImage(16, 16, all);
        try (Scope s = Scope.open()) {
            Tensor t = ImageTensors.toTensor(CpuBackend.get(), List.of(img));
            assertArrayEquals(all, ImageTensors.toImages(t).get(0).pixels());
            // bf16 keeps 8 bits of mantissa: values near 1 come back within one level.
            RgbImage back = ImageTensors.toImages(t.to(DType.BF16)).get(0);
            for (int i = 0; i < all.length; i++) assertEquals(all[i] & 0xff, back.pixels()[i] & 0xff, 1, "value " + (all[i] & 0xff));
        }
    }

    @Test
    void rejectsWrongLayout() {
        try (Scope s = Scope.open()) {
            Tensor chw = Tensor.zeros(CpuBackend.get(), DType.F32, 1, 3, 4, 4);
            assertThrows(IllegalArgumentException.class, () -> ImageTensors.toImages(chw));
        }
        assertThrows(IllegalArgumentException.class, () -> ImageTensors.toTensor(CpuBackend.get(), List.of(RgbImage.blank(2, 2), RgbImage.blank(3, 2))));
    }
}
