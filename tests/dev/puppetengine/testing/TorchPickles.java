package dev.puppetengine.testing;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Pieces of hand-assembled pickles and legacy (pre-zip) torch.save streams, for the tests of the unpickler and of
 * the converter's torch inputs: each builder returns parts that {@link #bytes} flattens.
 */
public final class TorchPickles {
    private TorchPickles() {}

    /** Integer or Character = one byte, String = its UTF-8 bytes, byte[] as is, Object[] flattened. */
    public static byte[] bytes(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object p : parts) {
            if (p instanceof Integer i) out.write(i);
            else if (p instanceof Character c) out.write(c);
            else if (p instanceof String s) out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            else if (p instanceof Object[] a) out.writeBytes(bytes(a));
            else out.writeBytes((byte[]) p);
        }
        return out.toByteArray();
    }

    public static byte[] le(long v, int n) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        return Arrays.copyOf(b.array(), n);
    }

    /** BINUNICODE. */
    public static Object[] str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return new Object[] {'X', le(b.length, 4), b};
    }

    /** An int: LONG1 of 8 bytes (any long). */
    public static Object[] num(long v) {
        return new Object[] {0x8a, 8, le(v, 8)};
    }

    public static Object[] tuple(Object[]... items) {
        return new Object[] {'(', items, 't'};
    }

    /** ('storage', torch.<type>, key, 'cpu', numel[, None]) as BINPERSID: the legacy id has the sixth (view) entry. */
    public static Object[] pid(String type, String key, long numel, boolean legacy) {
        return new Object[] {'(', str("storage"), 'c', "torch\n" + type + "\n", str(key), str("cpu"), num(numel), legacy ? new Object[] {'N'} : new Object[0],
                't', 'Q'};
    }

    /** _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
    public static Object[] tensor(Object[] pid, long offset, long[] size, long[] stride) {
        Object[][] sz = new Object[size.length][], st = new Object[stride.length][];
        for (int i = 0; i < size.length; i++) sz[i] = num(size[i]);
        for (int i = 0; i < stride.length; i++) st[i] = num(stride[i]);
        return new Object[] {'c', "torch._utils\n_rebuild_tensor_v2\n", '(', pid, num(offset), tuple(sz), tuple(st), 0x89,
                'c', "collections\nOrderedDict\n", ')', 'R', 't', 'R'};
    }

    /** A tensor of the given shape, row-major (contiguous) in its storage from offset on. */
    public static Object[] contiguous(Object[] pid, long offset, int... shape) {
        long[] size = new long[shape.length], stride = new long[shape.length];
        for (int d = shape.length - 1, st = 1; d >= 0; st *= shape[d--]) {
            size[d] = shape[d];
            stride[d] = st;
        }
        return tensor(pid, offset, size, stride);
    }

    public static final byte[] MAGIC = bytes(0x80, 2, 0x8a, 10, new byte[] {0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19}, '.');
    public static final byte[] VERSION = bytes(0x80, 2, 'M', 0xe9, 0x03, '.');
    public static final byte[] LITTLE = bytes(0x80, 2, '}', str("little_endian"), 0x88, 's', '.');

    public static byte[] keys(String... keys) {
        Object[][] k = new Object[keys.length][];
        for (int i = 0; i < keys.length; i++) k[i] = str(keys[i]);
        return bytes(0x80, 2, ']', '(', k, 'e', '.');
    }

    /** Element count, then the float32 elements. */
    public static byte[] floats(long count, float... v) {
        ByteBuffer b = ByteBuffer.allocate(8 + 4 * v.length).order(ByteOrder.LITTLE_ENDIAN).putLong(count);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    /** Element count, then the int64 elements. */
    public static byte[] longs(long count, long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * v.length).order(ByteOrder.LITTLE_ENDIAN).putLong(count);
        for (long l : v) b.putLong(l);
        return b.array();
    }
}
