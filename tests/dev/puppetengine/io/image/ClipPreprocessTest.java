package dev.puppetengine.io.image;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Against the independent numpy/scipy reference of tests/fixtures/gen_clip_fixtures.py (max |error| < 1e-5). */
class ClipPreprocessTest {
    private static final int[] ROWS = {0, 1, 2, 57, 111, 112, 200, 221, 222, 223};
    private static final double TOLERANCE = 1e-5;
    private static final int SIZE = 224;   // SVD's image encoder's input

    @Test
    void preprocess256MatchesReferenceRows() {
        RgbImage img = new RgbImage(256, 256, Fixtures.gunzip("clip/in_256x256.u8.gz"));
        float[] out = ClipPreprocess.preprocess(img, SIZE);
        assertEquals(224 * 224 * 3, out.length);
        float[] expected = Fixtures.gunzipFloats("clip/pre_rows.f32.gz");
        int rowLen = 224 * 3;
        float[] actual = new float[expected.length];
        for (int r = 0; r < ROWS.length; r++) System.arraycopy(out, ROWS[r] * rowLen, actual, r * rowLen, rowLen);
        assertClose(expected, actual, "256x256 -> 224x224 normalised");
    }

    @Test
    void strongBlurDownscaleMatchesReference() {
        assertResize("131x97", 131, 97, 20, 24);
    }

    @Test
    void upscaleMatchesReference() {
        assertResize("17x23", 17, 23, 50, 60);
    }

    @Test
    void tensorIsChannelsLastBatchOfOne() {
        RgbImage img = new RgbImage(256, 256, Fixtures.gunzip("clip/in_256x256.u8.gz"));
        try (Scope s = Scope.open()) {
            Tensor t = ClipPreprocess.toTensor(CpuBackend.get(), img, SIZE);
            assertArrayEquals(new int[] {1, 224, 224, 3}, t.shape());
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(ClipPreprocess.preprocess(img, SIZE), t.toFloatArray());
        }
    }

    @Test
    void uniformImageMapsToNormalisedConstant() {
        // Blur and interpolation weights each sum to 1, so a flat image stays flat: ((v/255) - mean) / std.
        RgbImage grey = RgbImage.blank(300, 260);
        Arrays.fill(grey.pixels(), (byte) 200);
        float[] out = ClipPreprocess.preprocess(grey, SIZE);
        double[] mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
        for (int i = 0; i < out.length; i++) {
            double signed = 200f / 255f * 2f - 1f;
            assertEquals(((signed + 1) / 2 - mean[i % 3]) / std[i % 3], out[i], 1e-6);
        }
    }

    /** Reflect padding needs a side longer than half the blur kernel (3 taps at least): a 1-pixel side is refused, 2 is taken. */
    @Test
    void aSideTooShortForReflectPaddingIsRefused() {
        assertEquals("image side 1 is too small for reflect padding of 1",
                assertThrows(IllegalArgumentException.class, () -> ClipPreprocess.preprocess(RgbImage.blank(1, 5), 4)).getMessage());
        assertEquals("image side 1 is too small for reflect padding of 1",
                assertThrows(IllegalArgumentException.class, () -> ClipPreprocess.preprocess(RgbImage.blank(5, 1), 4)).getMessage());
        assertEquals(4 * 4 * 3, ClipPreprocess.preprocess(RgbImage.blank(2, 2), 4).length);
    }

    /** A 1-pixel output samples input 0, as torch's align_corners does with one output; a scale of (n - 1) / 0 made it NaN. */
    @Test
    void aOnePixelOutputKeepsAFlatImagesValue() {
        double[] flat = new double[6 * 4 * 3];
        Arrays.fill(flat, 0.25);
        assertArrayEquals(new double[] {0.25, 0.25, 0.25}, ClipPreprocess.resizeAntialiased(flat, 4, 6, 1, 1), 1e-12);
    }

    private static void assertResize(String name, int h, int w, int outH, int outW) {
        RgbImage img = new RgbImage(w, h, Fixtures.gunzip("clip/in_" + name + ".u8.gz"));
        float[] signed = ImageTensors.toSigned(img);
        double[] in = new double[signed.length];
        for (int i = 0; i < in.length; i++) in[i] = signed[i];
        double[] out = ClipPreprocess.resizeAntialiased(in, h, w, outH, outW);
        float[] actual = new float[out.length];
        for (int i = 0; i < out.length; i++) actual[i] = (float) out[i];
        assertClose(Fixtures.gunzipFloats("clip/resize_" + name + "_" + outH + "x" + outW + ".f32.gz"), actual, name);
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (d > max) {
                max = d;
                at = i;
            }
        }
        assertTrue(max < TOLERANCE, what + ": max |error| " + max + " at flat index " + at);
    }
}
