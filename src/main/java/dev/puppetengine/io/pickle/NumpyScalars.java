package dev.puppetengine.io.pickle;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.util.List;

/**
 * numpy scalars as pickled by numpy: {@code numpy.core.multiarray.scalar(dtype, raw_bytes)} with the dtype
 * from {@code numpy.dtype(descr, align, copy)} plus a BUILD state that carries the byte order. Decoded to
 * plain Java values: 'U' (str_) to String, 'f' to Double, 'i' to Long, 'b1' to Boolean.
 */
final class NumpyScalars {
    private NumpyScalars() {}

    /** A numpy dtype under construction: descr such as "U11" or "f8"; the byte order arrives by BUILD. */
    static final class DType {
        final String descr;
        char byteOrder = '=';

        DType(String descr) {
            this.descr = descr;
        }

        @Override
        public String toString() {
            return "numpy.dtype('" + descr + "')";
        }
    }

    static DType dtype(String source, List<Object> args) throws PickleException {
        if (args.isEmpty() || !(args.get(0) instanceof String d) || !d.matches("[Ufib][0-9]{1,6}"))
            throw new PickleException(source, "numpy.dtype(" + (args.isEmpty() ? "" : PickleException.describe(args.get(0))) + "): only str/float/int/bool descriptors are supported");
        return new DType(d);
    }

    /** BUILD state (version, byteorder, subdescr, names, fields, elsize, alignment, flags). */
    static void setState(String source, DType t, Object state) throws PickleException {
        if (!(state instanceof List<?> s) || s.size() < 2 || !(s.get(1) instanceof String bo) || bo.length() != 1 || "<>=|".indexOf(bo.charAt(0)) < 0)
            throw new PickleException(source, "unexpected numpy.dtype state " + PickleException.describe(state));
        t.byteOrder = bo.charAt(0);
    }

    static Object scalar(String source, List<Object> args) throws PickleException {
        if (args.size() != 2 || !(args.get(0) instanceof DType t) || !(args.get(1) instanceof byte[] raw))
            throw new PickleException(source, "numpy scalar expects (dtype, bytes), found " + args.size() + " arguments");
        char kind = t.descr.charAt(0);
        int size = Integer.parseInt(t.descr.substring(1));
        int bytes = kind == 'U' ? 4 * size : size;
        if (raw.length != bytes)
            throw new PickleException(source, "numpy scalar of " + t + " has " + raw.length + " bytes, expected " + bytes);
        ByteBuffer b = ByteBuffer.wrap(raw).order(t.byteOrder == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        if (kind == 'U') return utf32(source, b, t);
        switch (t.descr) {
            case "f8": return b.getDouble();
            case "f4": return (double) b.getFloat();
            case "i8": return b.getLong();
            case "i4": return (long) b.getInt();
            case "b1": return raw[0] != 0;
            default: throw new PickleException(source, "numpy scalar of " + t + " is not supported");
        }
    }

    /** numpy str_: fixed-width UTF-32 padded with NULs, which numpy strips. */
    private static String utf32(String source, ByteBuffer b, DType t) throws PickleException {
        Charset cs = Charset.forName(b.order() == ByteOrder.BIG_ENDIAN ? "UTF-32BE" : "UTF-32LE");
        String s;
        try {
            s = cs.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT).decode(b).toString();
        } catch (CharacterCodingException e) {
            throw new PickleException(source, "invalid UTF-32 in numpy scalar of " + t);
        }
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '\0') end--;
        return s.substring(0, end);
    }
}
