package dev.puppetengine.io.pickle;

import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The legacy (non-zip) torch.save stream, both as a file and embedded as bytes in DragAMove batches: five
 * consecutive protocol-2 pickles (magic number, protocol version 1001, sys info, the object with storages as
 * persistent ids, the list of storage keys), then for each key an int64 element count and the raw
 * little-endian elements.
 */
final class LegacyTorchFormat {
    static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long PROTOCOL_VERSION = 1001;
    /** PROTO 2, LONG1 of 10 bytes, then the magic number little-endian. */
    private static final byte[] PREFIX = {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};

    private LegacyTorchFormat() {}

    static boolean matches(ByteBuffer b) {
        if (b.remaining() < PREFIX.length) return false;
        for (int i = 0; i < PREFIX.length; i++) if (b.get(b.position() + i) != PREFIX[i]) return false;
        return true;
    }

    /** Reads the whole stream from {@code buf}; storages are views of {@code buf} (not copied). */
    static Object load(ByteBuffer buf, String source) throws IOException {
        buf = buf.slice().order(ByteOrder.LITTLE_ENDIAN);
        Globals globals = new TorchGlobals(source, false);
        Object magic = new Unpickler(buf, source, globals, null).load();
        if (!MAGIC.equals(magic)) throw new PickleException(source, "not a legacy torch.save stream (magic number " + PickleException.describe(magic) + ")");
        Object version = new Unpickler(buf, source, globals, null).load();
        if (!Long.valueOf(PROTOCOL_VERSION).equals(version))
            throw new PickleException(source, "legacy torch.save protocol " + PickleException.describe(version) + ", expected " + PROTOCOL_VERSION);
        Object sysInfo = new Unpickler(buf, source, globals, null).load();
        if (!(sysInfo instanceof Map<?, ?> info) || !Boolean.TRUE.equals(info.get("little_endian")))
            throw new PickleException(source, "legacy torch.save sys info without little_endian=True: only little-endian checkpoints are supported");

        Map<String, TorchStorage> storages = new LinkedHashMap<>();
        Map<String, ByteBuffer> data = new HashMap<>();
        Object root = new Unpickler(buf, source, globals, pid -> storage(source, pid, storages, data)).load();

        Object keys = new Unpickler(buf, source, globals, null).load();
        if (!(keys instanceof List<?> keyList)) throw new PickleException(source, "legacy storage key list expected, found " + PickleException.describe(keys));
        for (Object k : keyList) {
            TorchStorage st = k instanceof String ? storages.get(k) : null;
            if (st == null) throw new PickleException(source, "storage key " + PickleException.describe(k) + " is listed but no tensor uses it");
            if (data.containsKey(st.key())) throw new PickleException(source, "storage '" + st.key() + "' listed twice");
            if (buf.remaining() < 8) throw new PickleException(source, "truncated: no element count for storage '" + st.key() + "'");
            long count = buf.getLong();
            if (count != st.numel())
                throw new PickleException(source, "storage '" + st.key() + "' holds " + count + " elements, its reference says " + st.numel());
            long bytes = count * st.dtype().bytes();
            if (bytes > buf.remaining())
                throw new PickleException(source, "truncated: storage '" + st.key() + "' needs " + bytes + " bytes, " + buf.remaining() + " left");
            data.put(st.key(), buf.slice(buf.position(), (int) bytes));
            buf.position(buf.position() + (int) bytes);
        }
        for (String k : storages.keySet())
            if (!data.containsKey(k)) throw new PickleException(source, "storage '" + k + "' is used but has no data");
        if (buf.hasRemaining()) throw new PickleException(source, buf.remaining() + " unexpected bytes after the last storage");
        return root;
    }

    /** Persistent id ('storage', storage type, key, location, numel, view_metadata). */
    private static TorchStorage storage(String source, Object pid, Map<String, TorchStorage> storages, Map<String, ByteBuffer> data)
            throws PickleException {
        if (!(pid instanceof List<?> p) || p.size() != 6 || !"storage".equals(p.get(0)) || !(p.get(1) instanceof TorchGlobals.StorageType type)
                || !(p.get(2) instanceof String key) || !(p.get(4) instanceof Long numel) || numel < 0)
            throw new PickleException(source, "unsupported persistent id " + PickleException.describe(pid) + " (expected ('storage', type, key, location, numel, None))");
        if (p.get(5) != null) throw new PickleException(source, "storage '" + key + "' is a legacy storage view, which is not supported");
        TorchStorage known = storages.get(key);
        if (known != null) {
            if (known.dtype() != type.dtype() || known.numel() != numel)
                throw new PickleException(source, "storage '" + key + "' referenced with conflicting types or sizes");
            return known;
        }
        checkBytes(source, key, numel, type.dtype());
        TorchStorage st = new TorchStorage(source, key, type.dtype(), numel, (off, len) -> data.get(key).slice((int) off, len));
        storages.put(key, st);
        return st;
    }

    static void checkBytes(String source, String key, long numel, DType dtype) throws PickleException {
        if (numel > Long.MAX_VALUE / dtype.bytes()) throw new PickleException(source, "storage '" + key + "' of " + numel + " elements overflows");
    }
}
