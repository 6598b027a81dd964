package dev.puppetengine.train.data;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/** One clip as read from disk: frames (F, H, W, 3) uint8 row-major, and its drags. */
public record ClipSample(int frames, int width, int height, byte[] rgb, ClipDrags drags) {

    /** Frame f as an image (a copy). */
    public RgbImage frame(int f) {
        Objects.checkIndex(f, frames);   // copyOfRange would pad a frame past the end with black
        int n = width * height * 3;
        return new RgbImage(width, height, Arrays.copyOfRange(rgb, f * n, (f + 1) * n));
    }

    /** The (F, 5, 4) drag tensor (spec 3.2) as a row-major float array. */
    public float[] dragTensor() {
        return drags.tensor();
    }

    /** Frames as a U8 tensor (F, H, W, 3), channels-last like every engine activation. The caller owns it. */
    public Tensor framesTensor(Backend backend) {
        Tensor t = backend.empty(DType.U8, frames, height, width, 3);
        t.storage().write(0, ByteBuffer.wrap(rgb));
        return t;
    }

    /** The drag tensor as F32 (F, 5, 4). The caller owns it. */
    public Tensor dragsTensor(Backend backend) {
        return Tensor.of(backend, DType.F32, new int[] {frames, DragTensor.SLOTS, 4}, dragTensor());
    }
}
