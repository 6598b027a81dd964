package dev.puppetengine.io;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * Moves little-endian element bytes read from a file into a backend tensor, optionally converting between
 * floating dtypes on the host (round to nearest even, exact: F64 goes through float with round-to-odd so
 * there is no double rounding). Conversion runs in bounded chunks so a large tensor never needs a second
 * full-size host buffer.
 */
public final class TensorBytes {
    private static final int CHUNK_ELEMS = 1 << 20;

    private TensorBytes() {}

    /** Whether {@link #upload} can convert {@code from} to {@code to}. */
    public static boolean canConvert(DType from, DType to) {
        return from == to || (from.isFloating() && to.isFloating());
    }

    /**
     * A new contiguous tensor of {@code shape} and dtype {@code to} on {@code backend} from {@code src}, which
     * holds exactly numel(shape) elements of dtype {@code from} (not consumed: a duplicate is read).
     */
    public static Tensor upload(Backend backend, ByteBuffer src, DType from, int[] shape, DType to) {
        if (!canConvert(from, to)) throw new IllegalArgumentException("cannot convert " + from + " to " + to + " (only between floating types)");
        long n = Shape.numel(shape);
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() != n * from.bytes())
            throw new IllegalArgumentException(in.remaining() + " bytes for " + n + " elements of " + from + " " + Shape.str(shape));
        Tensor out = backend.empty(to, shape);
        try {
            if (from == to) {
                out.storage().write(0, in);
            } else {
                ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(n, CHUNK_ELEMS) * to.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                for (long done = 0; done < n; ) {
                    int k = (int) Math.min(n - done, CHUNK_ELEMS);
                    chunk.clear();
                    for (int i = 0; i < k; i++) put(chunk, to, from, in);
                    out.storage().write(done, chunk.flip());
                    done += k;
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * The first element of {@code src} (whole little-endian elements of the floating {@code dtype}; not consumed) that is NaN
     * or infinite, for messages ("element 7 of 12 is NaN"), or null when all are finite: how readers refuse such values
     * naming the file and tensor that hold them. Bit tests in one pass, well under 1 ns per element.
     */
    public static String nonFinite(ByteBuffer src, DType dtype) {
        return firstBad(src, dtype, false);
    }

    /** As {@link #nonFinite}, also refusing values below zero (-0 is not): second moments, squares by construction. */
    public static String negativeOrNonFinite(ByteBuffer src, DType dtype) {
        return firstBad(src, dtype, true);
    }

    private static String firstBad(ByteBuffer src, DType dtype, boolean negative) {
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining() / dtype.bytes(), i = 0;
        switch (dtype) {   // one loop per type: the exponent field all ones is an infinity or a NaN
            case F64: { LongBuffer b = in.asLongBuffer(); while (i < n && fine(b.get(i), 0x7ff0000000000000L, Long.MIN_VALUE, negative)) i++; break; }
            case F32: { IntBuffer b = in.asIntBuffer(); while (i < n && fine(b.get(i), 0x7f800000L, 0x80000000L, negative)) i++; break; }
            case BF16: { ShortBuffer b = in.asShortBuffer(); while (i < n && fine(b.get(i), 0x7f80L, 0x8000L, negative)) i++; break; }
            case F16: { ShortBuffer b = in.asShortBuffer(); while (i < n && fine(b.get(i), 0x7c00L, 0x8000L, negative)) i++; break; }
            default: throw new IllegalArgumentException("values of " + dtype + " are not checked");
        }
        if (i == n) return null;
        in.position(in.position() + i * dtype.bytes());
        return "element " + i + " of " + n + " is " + get(in, dtype);
    }

    /**
     * The first element of {@code src} (finite, of the floating {@code from}) that {@code to} cannot hold: from its
     * rounding bound on (65520 for F16, 2^128 - 2^119 for BF16, 2^128 - 2^103 for F32) a value rounds past the type's
     * largest to an infinity. In {@link #nonFinite}'s words, with the converted value; null when all fit, as always when
     * {@code to} has at least {@code from}'s range. Read from the stored bytes, so that a tensor converted on a device
     * need not come back to be checked.
     */
    public static String overflows(ByteBuffer src, DType from, DType to) {
        double bound = roundingBound(to);
        if (bound >= roundingBound(from)) return null;
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining() / from.bytes();
        for (int i = 0; i < n; i++) {
            double x = get(in, from);
            if (Math.abs(x) >= bound) return "element " + i + " of " + n + " is " + Math.copySign(Double.POSITIVE_INFINITY, x);
        }
        return null;
    }

    /** The magnitude from which a value rounds (nearest even) to an infinity in a floating {@code dtype}: halfway past its largest. */
    private static double roundingBound(DType dtype) {
        switch (dtype) {
            case F64: return Double.POSITIVE_INFINITY;
            case F32: return 0x1.ffffffp127;
            case BF16: return 0x1.ffp127;
            case F16: return 65520;
            default: throw new IllegalArgumentException(dtype + " is not a floating type");
        }
    }

    /** Whether IEEE bits (sign-extended: only those below {@code sign} and the sign count) are finite and, if asked, not below zero. */
    private static boolean fine(long bits, long exponent, long sign, boolean refuseNegative) {
        return (bits & exponent) != exponent && !(refuseNegative && (bits & sign) != 0 && (bits & (sign - 1)) != 0);
    }

    /** The next element of a floating dtype (exact: each widens to double). */
    private static double get(ByteBuffer in, DType from) {
        switch (from) {
            case F64: return in.getDouble();
            case F32: return in.getFloat();
            case BF16: return Half.bf16ToFloat(in.getShort());
            default: return Half.f16ToFloat(in.getShort());
        }
    }

    private static void put(ByteBuffer dst, DType to, DType from, ByteBuffer in) {
        if (from == DType.F64) {
            double d = in.getDouble();
            if (to == DType.F32) dst.putFloat((float) d);
            else dst.putShort(to == DType.BF16 ? Half.doubleToBf16(d) : Half.doubleToF16(d));   // rounded once
            return;
        }
        float f = (float) get(in, from);
        switch (to) {
            case F64: dst.putDouble(f); break;
            case F32: dst.putFloat(f); break;
            default: putHalf(dst, to, f);
        }
    }

    private static void putHalf(ByteBuffer dst, DType to, float f) {
        dst.putShort(to == DType.BF16 ? Half.floatToBf16(f) : Half.floatToF16(f));
    }
}
