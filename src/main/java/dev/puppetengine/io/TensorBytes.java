package dev.puppetengine.io;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.DoublePredicate;

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
     * The first element of {@code src} (whole little-endian elements of the floating {@code dtype}; not consumed) that fails
     * {@code ok}, for messages ("element 7 of 12 is NaN"), or null when none does: how readers refuse values such as
     * NaN and infinities naming the file and tensor that hold them. One pass over bytes the caller reads anyway.
     */
    public static String firstFailing(ByteBuffer src, DType dtype, DoublePredicate ok) {
        if (!dtype.isFloating()) throw new IllegalArgumentException("values of " + dtype + " are not checked");
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long n = in.remaining() / dtype.bytes();
        for (long i = 0; i < n; i++) {
            double v = get(in, dtype);
            if (!ok.test(v)) return "element " + i + " of " + n + " is " + v;
        }
        return null;
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
