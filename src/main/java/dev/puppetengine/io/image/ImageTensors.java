package dev.puppetengine.io.image;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Images to and from the model's pixel tensors: channels-last (N, H, W, 3), values in [-1, 1]. Both
 * directions repeat the reference's float32 arithmetic (diffusers' VaeImageProcessor) so that the uint8
 * results match it exactly: in, {@code v / 255 * 2 - 1}; out (spec 5.4), {@code clamp(x / 2 + 0.5, 0, 1)},
 * then {@code round(x * 255)} with numpy's round-half-to-even.
 */
public final class ImageTensors {
    private ImageTensors() {}

    /** The image's values in [-1, 1], channels-last (H, W, 3) order. */
    public static float[] toSigned(RgbImage image) {
        byte[] px = image.pixels();
        float[] out = new float[px.length];
        for (int i = 0; i < px.length; i++) out[i] = (px[i] & 0xff) / 255f * 2f - 1f;
        return out;
    }

    /** A (N, H, W, 3) F32 tensor of same-size images, in [-1, 1]. */
    public static Tensor toTensor(Backend backend, List<RgbImage> images) {
        if (images.isEmpty()) throw new IllegalArgumentException("no images to convert");
        int h = images.get(0).height(), w = images.get(0).width();
        float[] all = new float[images.size() * h * w * 3];
        for (int n = 0; n < images.size(); n++) {
            RgbImage img = images.get(n);
            if (img.width() != w || img.height() != h) {
                throw new IllegalArgumentException("image " + n + " is " + img.width() + "x" + img.height() + ", image 0 is " + w + "x" + h);
            }
            System.arraycopy(toSigned(img), 0, all, n * h * w * 3, h * w * 3);
        }
        return Tensor.of(backend, DType.F32, new int[] {images.size(), h, w, 3}, all);
    }

    /** Decoded frames (N, H, W, 3) of any floating dtype, in [-1, 1], to uint8 images (spec 5.4). */
    public static List<RgbImage> toImages(Tensor frames) {
        int[] s = frames.shape();
        if (s.length != 4 || s[3] != 3 || !frames.dtype().isFloating()) {
            throw new IllegalArgumentException("frames must be a floating (N, H, W, 3) tensor, got " + frames.dtype() + " " + Arrays.toString(s));
        }
        return toImages(frames.toDoubleArray(), s);
    }

    /** {@link #toImages(Tensor)} from values already read to the host, (N, H, W, 3) row-major. */
    public static List<RgbImage> toImages(double[] v, int[] s) {
        int per = s[1] * s[2] * 3;
        List<RgbImage> out = new ArrayList<>(s[0]);
        for (int n = 0; n < s[0]; n++) {
            byte[] px = new byte[per];
            for (int i = 0; i < per; i++) px[i] = toByte((float) v[n * per + i]);
            out.add(new RgbImage(s[2], s[1], px));
        }
        return out;
    }

    /** One value in [-1, 1] to uint8, in float32 like the reference. NaN becomes 0 (numpy leaves that cast undefined). */
    static byte toByte(float x) {
        float unit = Math.min(Math.max(x / 2f + 0.5f, 0f), 1f);
        return (byte) (int) Math.rint(unit * 255f);
    }
}
