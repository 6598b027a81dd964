package dev.puppetengine.random;

/**
 * Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), and the engine's
 * streams over it. A stream is (seed, offset): element i of a fill draws block {@code offset + i/4} (the
 * 64-bit counter in words 0-1, words 2-3 zero; key = the seed's two halves) and takes word {@code i % 4}.
 *
 * <p>Every backend must reproduce these values bit for bit, so the transforms use only IEEE-754 double
 * {@code + - * /} and sqrt in a fixed order (our own log and sin/cos polynomials below; no library calls, no
 * fused multiply-add), then round to float. {@code kernels/philox.cu} is the CUDA twin of this file.
 */
public final class Philox {
    private Philox() {}

    static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /** The raw generator: 10 rounds on counter {@code ctr} (4 words) with key {@code key} (2 words). */
    public static int[] philox4x32(int[] ctr, int[] key) {
        int c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
        for (int r = 0; r < 10; r++) {
            if (r > 0) { k0 += W0; k1 += W1; }
            long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
            long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0, hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        return new int[]{c0, c1, c2, c3};
    }

    /** The four words of block {@code block} of stream {@code seed}. */
    public static int[] block(long seed, long block) {
        return philox4x32(new int[]{(int) block, (int) (block >>> 32), 0, 0}, new int[]{(int) seed, (int) (seed >>> 32)});
    }

    /** Uniform in [0, 1): the top 24 bits of a word, exact in float. */
    public static float uniform(int word) {
        return (word >>> 8) * 0x1p-24f;
    }

    /** Element {@code i} of the uniform stream (seed, offset). */
    public static float uniform(long seed, long offset, long i) {
        return uniform(block(seed, offset + (i >>> 2))[(int) (i & 3)]);
    }

    /** Element {@code i} of the standard normal stream (seed, offset): Box-Muller on word pairs (0,1) and (2,3). */
    public static float normal(long seed, long offset, long i) {
        int[] w = block(seed, offset + (i >>> 2));
        int pair = (int) (i & 3) >>> 1;
        return boxMuller(w[2 * pair], w[2 * pair + 1], (i & 1) == 0);
    }

    /** Fills {@code out[0..n)} with stream elements start..start+n (one Philox call per 4 elements). */
    public static void fill(float[] out, int n, boolean normal, long seed, long offset, long start) {
        for (int i = 0; i < n; ) {
            long e = start + i;
            int[] w = block(seed, offset + (e >>> 2));
            for (int j = (int) (e & 3); j < 4 && i < n; j++, i++) {
                out[i] = normal ? boxMuller(w[j & 2], w[(j & 2) + 1], (j & 1) == 0) : uniform(w[j]);
            }
        }
    }

    /** z0 = r cos(2 pi u2) (first) or z1 = r sin(2 pi u2), r = sqrt(-2 ln u1), u1 in (0, 1], u2 in [0, 1). */
    static float boxMuller(int a, int b, boolean first) {
        double u1 = ((a & 0xffffffffL) + 1) * 0x1p-32;
        double u2 = (b & 0xffffffffL) * 0x1p-32;
        double r = Math.sqrt(-2.0 * log(u1));
        double[] sc = sinCos2Pi(u2);
        return (float) (first ? r * sc[1] : r * sc[0]);
    }

    private static final double LN2 = 0x1.62e42fefa39efp-1;
    private static final double SQRT2 = 0x1.6a09e667f3bcdp0;

    /** Natural log for x in (0, 1]: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)). */
    static double log(double x) {
        long bits = Double.doubleToRawLongBits(x);
        int e = (int) ((bits >>> 52) & 0x7ff) - 1023;
        double m = Double.longBitsToDouble((bits & 0x000fffffffffffffL) | 0x3ff0000000000000L);
        if (m > SQRT2) { m = m * 0.5; e = e + 1; }
        double s = (m - 1.0) / (m + 1.0);
        double z = s * s;
        // 1 + z/3 + z^2/5 + ... + z^11/23, |z| <= 0.0295: truncation below 1e-18.
        double p = 0x1.642c8590b2164p-5;                 // 1/23
        p = p * z + 0x1.8618618618618p-5;                // 1/21
        p = p * z + 0x1.af286bca1af28p-5;                // 1/19
        p = p * z + 0x1.e1e1e1e1e1e1ep-5;                // 1/17
        p = p * z + 0x1.1111111111111p-4;                // 1/15
        p = p * z + 0x1.3b13b13b13b14p-4;                // 1/13
        p = p * z + 0x1.745d1745d1746p-4;                // 1/11
        p = p * z + 0x1.c71c71c71c71cp-4;                // 1/9
        p = p * z + 0x1.2492492492492p-3;                // 1/7
        p = p * z + 0x1.999999999999ap-3;                // 1/5
        p = p * z + 0x1.5555555555555p-2;                // 1/3
        p = p * z + 1.0;
        return e * LN2 + 2.0 * s * p;
    }

    private static final double HALF_PI = 0x1.921fb54442d18p0;

    /** {sin, cos} of 2 pi u for u in [0, 1), by quadrant and Taylor series on [0, pi/4]. */
    static double[] sinCos2Pi(double u) {
        double t = u * 4.0;                  // exact: u has at most 32 significant bits
        int q = (int) t;
        double f = t - q;                    // exact
        boolean swap = f > 0.5;
        double x = (swap ? 1.0 - f : f) * HALF_PI;
        double x2 = x * x;
        double s = x * (1.0 + x2 * (-0x1.5555555555555p-3 + x2 * (0x1.1111111111111p-7 + x2 * (-0x1.a01a01a01a01ap-13
                + x2 * (0x1.71de3a556c734p-19 + x2 * (-0x1.ae64567f544e4p-26 + x2 * (0x1.6124613a86d09p-33 + x2 * -0x1.ae7f3e733b81fp-41)))))));
        double c = 1.0 + x2 * (-0.5 + x2 * (0x1.5555555555555p-5 + x2 * (-0x1.6c16c16c16c17p-10 + x2 * (0x1.a01a01a01a01ap-16
                + x2 * (-0x1.27e4fb7789f5cp-22 + x2 * (0x1.1eed8eff8d898p-29 + x2 * -0x1.93974a8c07c9dp-37))))));
        double sin = swap ? c : s, cos = swap ? s : c;
        switch (q) {
            case 0: return new double[]{sin, cos};
            case 1: return new double[]{cos, -sin};
            case 2: return new double[]{-sin, -cos};
            default: return new double[]{-cos, sin};
        }
    }
}
