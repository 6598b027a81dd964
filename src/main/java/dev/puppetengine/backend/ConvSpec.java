package dev.puppetengine.backend;

/** Stride and zero padding of a 2-D convolution (asymmetric padding allowed: the VAE downsampler pads right/bottom only). */
public record ConvSpec(int strideH, int strideW, int padTop, int padBottom, int padLeft, int padRight) {
    public ConvSpec {
        if (strideH < 1 || strideW < 1 || padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0)
            throw new IllegalArgumentException("invalid conv spec " + this);
    }

    public static ConvSpec of(int stride, int pad) {
        return new ConvSpec(stride, stride, pad, pad, pad, pad);
    }

    /** Output rows; 0 or less when the kernel is larger than the padded input (floor division: -1 / 2 is not 0). */
    public int outH(int h, int kh) { return Math.floorDiv(h + padTop + padBottom - kh, strideH) + 1; }

    public int outW(int w, int kw) { return Math.floorDiv(w + padLeft + padRight - kw, strideW) + 1; }
}
