package dev.puppetengine.io.pickle;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The zip torch.save format (.pt, .bin, ema.pt): {@code <archive>/data.pkl} is a pickle whose persistent ids
 * name storages stored as {@code <archive>/data/<key>} entries. Storage bytes are read from the zip only when
 * a tensor is converted, so the archive stays open in the returned {@link TorchFile}.
 */
final class ZipTorchFormat {
    /** data.pkl holds structure only; a 1664-tensor state dict is ~200 KB. */
    static final long MAX_PICKLE_BYTES = 256L << 20;

    private ZipTorchFormat() {}

    static boolean matches(ByteBuffer b) {
        int p = b.position();
        return b.remaining() >= 4 && b.get(p) == 'P' && b.get(p + 1) == 'K' && b.get(p + 2) == 3 && b.get(p + 3) == 4;
    }

    static TorchFile open(Path file) throws IOException {
        String source = file.toString();
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException | EOFException e) {   // a truncated or damaged archive (EOF: an end record that overruns the file): the input's fault
            throw new PickleException(source, "starts like a zip torch checkpoint but is not a readable zip archive (" + e.getMessage()
                    + "; a truncated download?)", e);
        }
        try {
            String prefix = archivePrefix(source, zip);
            checkLittleEndian(source, zip, prefix);
            ZipEntry pkl = zip.getEntry(prefix + "data.pkl");
            if (pkl.getSize() < 0 || pkl.getSize() > MAX_PICKLE_BYTES)
                throw new PickleException(source, prefix + "data.pkl declares " + pkl.getSize() + " bytes (limit " + MAX_PICKLE_BYTES + ")");
            byte[] pickle = read(source, zip, pkl, 0, (int) pkl.getSize());
            Map<String, TorchStorage> storages = new HashMap<>();
            Object root = new Unpickler(ByteBuffer.wrap(pickle), source, new TorchGlobals(source, false),
                    pid -> storage(source, zip, prefix, pid, storages)).load();
            return new TorchFile(root, zip);
        } catch (IOException | RuntimeException e) {
            zip.close();
            throw e;
        }
    }

    /** Newer archives record the byte order; older ones are always little-endian. */
    private static void checkLittleEndian(String source, ZipFile zip, String prefix) throws IOException {
        ZipEntry order = zip.getEntry(prefix + "byteorder");
        if (order == null) return;
        String value = order.getSize() >= 0 && order.getSize() <= 16
                ? new String(read(source, zip, order, 0, (int) order.getSize()), StandardCharsets.US_ASCII).trim() : "?";
        if (!value.equals("little"))
            throw new PickleException(source, "only little-endian checkpoints are supported (" + prefix + "byteorder says '" + value + "')");
    }

    /** The single top-level directory holding data.pkl ("archive/" for torch.save, the file's stem for others). */
    private static String archivePrefix(String source, ZipFile zip) throws PickleException {
        String prefix = null;
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String name = en.nextElement().getName();
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
                if (prefix != null) throw new PickleException(source, "zip holds more than one */data.pkl");
                prefix = name.substring(0, slash + 1);
            }
        }
        if (prefix == null) throw new PickleException(source, "zip has no */data.pkl: not a torch checkpoint");
        return prefix;
    }

    /** Persistent id ('storage', storage type, key, location, numel). */
    private static TorchStorage storage(String source, ZipFile zip, String prefix, Object pid, Map<String, TorchStorage> storages)
            throws PickleException {
        if (!(pid instanceof List<?> p) || p.size() != 5 || !"storage".equals(p.get(0)) || !(p.get(1) instanceof TorchGlobals.StorageType type)
                || !(p.get(2) instanceof String key) || !(p.get(4) instanceof Long numel) || numel < 0)
            throw new PickleException(source, "unsupported persistent id " + PickleException.describe(pid) + " (expected ('storage', type, key, location, numel))");
        TorchStorage known = storages.get(key);
        if (known != null) {
            if (known.dtype() != type.dtype() || known.numel() != numel)
                throw new PickleException(source, "storage '" + key + "' referenced with conflicting types or sizes");
            return known;
        }
        LegacyTorchFormat.checkBytes(source, key, numel, type.dtype());
        ZipEntry entry = zip.getEntry(prefix + "data/" + key);
        if (entry == null) throw new PickleException(source, "storage '" + key + "' has no entry " + prefix + "data/" + key);
        long bytes = numel * type.dtype().bytes();
        if (entry.getSize() != bytes)
            throw new PickleException(source, "storage '" + key + "' (" + numel + " x " + type.dtype() + ") needs " + bytes
                    + " bytes but its entry holds " + entry.getSize());
        TorchStorage st = new TorchStorage(source, key, type.dtype(), numel, (off, len) -> ByteBuffer.wrap(read(source, zip, entry, off, len)));
        storages.put(key, st);
        return st;
    }

    /** Exactly {@code length} bytes of an entry from {@code offset}. */
    private static byte[] read(String source, ZipFile zip, ZipEntry e, long offset, int length) throws IOException {
        try (InputStream in = zip.getInputStream(e)) {
            in.skipNBytes(offset);
            byte[] b = in.readNBytes(length);
            if (b.length != length)
                throw new PickleException(source, e.getName() + " ended after " + (offset + b.length) + " bytes, expected " + (offset + length));
            return b;
        } catch (IllegalStateException closed) {
            throw new PickleException(source, "reading " + e.getName() + " after the checkpoint was closed", closed);
        } catch (ZipException | EOFException damaged) {   // bad compressed data, or an entry shorter than its offset
            throw new PickleException(source, "zip entry " + e.getName() + " is damaged (" + damaged.getMessage() + ")", damaged);
        }
    }
}
