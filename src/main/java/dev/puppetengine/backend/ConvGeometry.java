package dev.puppetengine.backend;

import dev.puppetengine.tensor.Shape;

/**
 * The shapes of one 2-D convolution, x (N, H, W, Cin) with w (Cout, kh, kw, Cin): checked once here for every
 * backend, so both report a bad operand with the same words.
 */
public record ConvGeometry(int n, int h, int w, int cin, int cout, int kh, int kw, ConvSpec s) {
    public static ConvGeometry of(int[] xs, int[] ws, ConvSpec spec) {
        OpChecks.require(xs.length == 4 && ws.length == 4,
                "conv2d expects x (N,H,W,Cin) and w (Cout,kh,kw,Cin), got " + Shape.str(xs) + ", " + Shape.str(ws));
        OpChecks.require(xs[3] == ws[3], "conv2d: input has " + xs[3] + " channels, weight expects " + ws[3]);
        ConvGeometry g = new ConvGeometry(xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], spec);
        OpChecks.require(g.ho() > 0 && g.wo() > 0,
                "conv2d: empty output for input " + Shape.str(xs) + " kernel " + ws[1] + "x" + ws[2] + " " + spec);
        return g;
    }

    public int ho() { return s.outH(h, kh); }

    public int wo() { return s.outW(w, kw); }

    /** Length of one im2col row: kh * kw * Cin. */
    public int kk() { return kh * kw * cin; }

    public int[] outShape() { return new int[]{n, ho(), wo(), cout}; }

    /** A 1x1 stride-1 unpadded conv: a plain product of the pixels with the weight. */
    public boolean pointwise() {
        return kh == 1 && kw == 1 && s.strideH() == 1 && s.strideW() == 1
                && s.padTop() == 0 && s.padBottom() == 0 && s.padLeft() == 0 && s.padRight() == 0;
    }
}
