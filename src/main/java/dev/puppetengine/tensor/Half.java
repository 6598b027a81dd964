package dev.puppetengine.tensor;

/** Exact float {@literal <->} bf16 / fp16 conversions, rounding to nearest even (the rule torch and CUDA use). */
public final class Half {
    private Half() {}

    /** A double rounded once to bf16 (nearest even); {@code floatToBf16((float) v)} would round twice. */
    public static short doubleToBf16(double v) { return floatToBf16(roundToOdd(v)); }

    /** A double rounded once to fp16 (nearest even). */
    public static short doubleToF16(double v) { return floatToF16(roundToOdd(v)); }

    /**
     * v as a float rounded toward zero with the last bit set when inexact ("round to odd"): rounding that to a
     * format at least two bits narrower (bf16, fp16) gives v's correctly rounded value, where the float nearest
     * to v could sit exactly on a tie that v itself is not on.
     */
    static float roundToOdd(double v) {
        float f = (float) v;
        if (f == v || Double.isNaN(v)) return f;
        int bits = Float.floatToRawIntBits(f);
        if (Math.abs((double) f) > Math.abs(v)) bits--;              // toward zero (an overflowed infinity -> the largest float)
        return Float.intBitsToFloat(bits | 1);
    }

    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040); // quiet NaN, keep sign
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    public static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        int e = exp - 127 + 15;
        if (e >= 0x1f) return (short) (sign | 0x7c00);                 // overflow -> inf
        if (e <= 0) {                                                  // subnormal or zero in fp16
            if (e < -10) return (short) sign;
            int m = mant | 0x800000;                                   // implicit 1
            int shift = 14 - e;                                        // 1 - e + 13
            int half = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) half++;
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) half++; // may carry into exponent: still correct
        return (short) (sign | half);
    }

    public static float f16ToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            float v = mant * 0x1p-24f;                                 // subnormal: exact in float
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
}
