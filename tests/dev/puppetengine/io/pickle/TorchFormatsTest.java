package dev.puppetengine.io.pickle;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.testing.OpenFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static dev.puppetengine.testing.TorchPickles.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The container layouts around the pickles, hand-assembled: legacy torch.save streams (as files and embedded in a
 * pickle), zip archives with their own data.pkl, numpy scalars in every supported dtype, and what each must refuse.
 */
class TorchFormatsTest {
    private static final CpuBackend CPU = CpuBackend.get();

    @TempDir
    Path dir;

    /** The object pickle: {'w': a float tensor of 2 over storage '0'}. */
    static byte[] object(Object[] tensor) {
        return bytes(0x80, 2, '}', str("w"), tensor, 's', '.');
    }

    static final byte[] W = object(tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}));

    static Object load(byte[] all) throws IOException {
        return TorchFile.load(ByteBuffer.wrap(all), "legacy.pt");
    }

    static void refused(byte[] all, String expected) {
        PickleException e = assertThrows(PickleException.class, () -> load(all));
        assertTrue(e.getMessage().startsWith("legacy.pt"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    static double[] values(Object tensor) throws IOException {
        try (Scope s = Scope.open()) {
            return assertInstanceOf(TorchTensor.class, tensor).toTensor(CPU).toDoubleArray();
        }
    }

    // ---- legacy torch.save ----------------------------------------------------------------------------

    @Test
    void aHandMadeLegacyStreamLoads() throws IOException {
        Map<?, ?> m = (Map<?, ?>) load(bytes(MAGIC, VERSION, LITTLE, W, keys("0"), floats(2, 1.5f, -2)));
        assertArrayEquals(new double[] {1.5, -2}, values(m.get("w")));
        // one storage used twice with the same type and size is one storage
        byte[] two = bytes(0x80, 2, '}', str("a"), tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}), 's',
                str("b"), tensor(pid("FloatStorage", "0", 2, true), 1, new long[] {1}, new long[] {1}), 's', '.');
        Map<?, ?> ab = (Map<?, ?>) load(bytes(MAGIC, VERSION, LITTLE, two, keys("0"), floats(2, 1.5f, -2)));
        assertSame(((TorchTensor) ab.get("a")).storage(), ((TorchTensor) ab.get("b")).storage());
        assertArrayEquals(new double[] {-2}, values(ab.get("b")));
        // an empty storage last: its element count is the last 8 bytes; the largest dimension a view may have
        byte[] edge = bytes(0x80, 2, '}', str("w"), tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {Integer.MAX_VALUE}, new long[] {0}), 's',
                str("e"), tensor(pid("FloatStorage", "1", 0, true), 0, new long[] {0}, new long[] {1}), 's', '.');
        Map<?, ?> m2 = (Map<?, ?>) load(bytes(MAGIC, VERSION, LITTLE, edge, keys("0", "1"), floats(2, 1.5f, -2), floats(0)));
        assertArrayEquals(new int[] {Integer.MAX_VALUE}, ((TorchTensor) m2.get("w")).shape());
        assertEquals(0, ((TorchTensor) m2.get("e")).storage().numel());
    }

    @Test
    void legacyStreamsWithAWrongHeaderAreRefused() {
        // through _load_from_bytes, which does not look at the prefix first
        PickleException e = assertThrows(PickleException.class, () -> embedded(bytes(0x80, 2, 'K', 5, '.', VERSION, LITTLE, W, keys("0"), floats(2, 1, 2))));
        assertTrue(e.getMessage().contains("(embedded torch.save bytes): not a legacy torch.save stream (magic number 5)"), e.getMessage());
        refused(bytes(MAGIC, 0x80, 2, 'M', 0xe8, 0x03, '.', LITTLE, W, keys("0"), floats(2, 1, 2)), "legacy torch.save protocol 1000, expected 1001");
        refused(bytes(MAGIC, VERSION, 0x80, 2, '}', str("little_endian"), 0x89, 's', '.', W, keys("0"), floats(2, 1, 2)),
                "sys info without little_endian=True");
        refused(bytes(MAGIC, VERSION, 0x80, 2, 'N', '.', W, keys("0"), floats(2, 1, 2)), "sys info without little_endian=True");
    }

    private static Object embedded(byte[] inner) throws IOException {
        return TorchFile.load(ByteBuffer.wrap(bytes('c', "torch.storage\n_load_from_bytes\n", 'B', le(inner.length, 4), inner, 0x85, 'R', '.')), "outer.pkl");
    }

    @Test
    void legacyStorageTablesMustMatchTheirData() {
        refused(bytes(MAGIC, VERSION, LITTLE, W, 0x80, 2, 'N', '.', floats(2, 1, 2)), "legacy storage key list expected, found None");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0", "7"), floats(2, 1, 2), floats(1, 3)), "storage key '7' is listed but no tensor uses it");
        refused(bytes(MAGIC, VERSION, LITTLE, W, 0x80, 2, ']', 'K', 5, 'a', '.', floats(2, 1, 2)), "storage key 5 is listed but no tensor uses it");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0", "0"), floats(2, 1, 2), floats(2, 1, 2)), "storage '0' listed twice");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0"), le(2, 7)), "truncated: no element count for storage '0'");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0"), floats(3, 1, 2, 3)), "storage '0' holds 3 elements, its reference says 2");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0"), floats(2, 1)), "truncated: storage '0' needs 8 bytes, 4 left");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys(), floats(2, 1, 2)), "storage '0' is used but has no data");
        refused(bytes(MAGIC, VERSION, LITTLE, W, keys("0"), floats(2, 1, 2), new byte[3]), "3 unexpected bytes after the last storage");
    }

    @Test
    void legacyPersistentIdsAreChecked() {
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(pid("FloatStorage", "0", 2, false), 0, new long[] {2}, new long[] {1})), keys("0"), floats(2, 1, 2)),
                "unsupported persistent id tuple of 5 (expected ('storage', type, key, location, numel, None))");
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(pid("FloatStorage", "0", -1, true), 0, new long[] {0}, new long[] {1})), keys("0"), floats(2, 1, 2)),
                "unsupported persistent id");
        Object[] view = {'(', str("storage"), 'c', "torch\nFloatStorage\n", str("0"), str("cpu"), num(2), '(', str("1"), num(0), num(1), 't', 't', 'Q'};
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(view, 0, new long[] {2}, new long[] {1})), keys("0"), floats(2, 1, 2)),
                "storage '0' is a legacy storage view, which is not supported");
        byte[] conflicting = bytes(0x80, 2, '}', str("a"), tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}), 's',
                str("b"), tensor(pid("FloatStorage", "0", 3, true), 0, new long[] {2}, new long[] {1}), 's', '.');
        refused(bytes(MAGIC, VERSION, LITTLE, conflicting, keys("0"), floats(2, 1, 2)), "storage '0' referenced with conflicting types or sizes");
        byte[] otherType = bytes(0x80, 2, '}', str("a"), tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}), 's',
                str("b"), tensor(pid("IntStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}), 's', '.');
        refused(bytes(MAGIC, VERSION, LITTLE, otherType, keys("0"), floats(2, 1, 2)), "storage '0' referenced with conflicting types or sizes");
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(pid("FloatStorage", "0", 1L << 62, true), 0, new long[] {2}, new long[] {1})), keys("0"), floats(2, 1, 2)),
                "storage '0' of 4611686018427387904 elements overflows");
    }

    // ---- zip archives ---------------------------------------------------------------------------------

    private Path zip(String name, Map<String, byte[]> entries) throws IOException {
        Path out = dir.resolve(name);
        try (OutputStream os = Files.newOutputStream(out); ZipOutputStream zos = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                zos.putNextEntry(new ZipEntry(e.getKey()));
                zos.write(e.getValue());
                zos.closeEntry();
            }
        }
        return out;
    }

    private static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    private static final byte[] ZIP_W = object(tensor(pid("FloatStorage", "0", 2, false), 0, new long[] {2}, new long[] {1}));

    private static Map<String, byte[]> entries(String prefix, byte[] pickle, Object... more) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(prefix + "data.pkl", pickle);
        for (int i = 0; i < more.length; i += 2) m.put((String) more[i], (byte[]) more[i + 1]);
        return m;
    }

    private static void refusedFile(Path f, String expected) {
        PickleException e = assertThrows(PickleException.class, () -> TorchFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    /** Any top-level folder name; no byteorder entry (older torch) means little-endian; a long byteorder entry is not read. */
    @Test
    void zipArchivesOfOtherLayouts() throws IOException {
        Path old = zip("old.pt", entries("model/", ZIP_W, "model/data/0", f32(0.5f, 4)));
        try (TorchFile f = TorchFile.open(old)) {
            assertArrayEquals(new double[] {0.5, 4}, values(((Map<?, ?>) f.root()).get("w")));
        }
        Path little = zip("little.pt", entries("archive/", ZIP_W, "archive/data/0", f32(0.5f, 4), "archive/byteorder", "little\n".getBytes()));
        try (TorchFile f = TorchFile.open(little)) {
            assertArrayEquals(new double[] {0.5, 4}, values(((Map<?, ?>) f.root()).get("w")));
        }
        refusedFile(zip("long.pt", entries("archive/", ZIP_W, "archive/data/0", f32(0.5f, 4), "archive/byteorder", "little           ".getBytes())),
                "only little-endian checkpoints are supported (archive/byteorder says '?')");
        Path padded = zip("padded.pt", entries("archive/", ZIP_W, "archive/data/0", f32(0.5f, 4), "archive/byteorder", "little          ".getBytes()));
        try (TorchFile f = TorchFile.open(padded)) {                     // 16 bytes: still read
            assertArrayEquals(new double[] {0.5, 4}, values(((Map<?, ?>) f.root()).get("w")));
        }
        refusedFile(zip("empty-order.pt", entries("archive/", ZIP_W, "archive/data/0", f32(0.5f, 4), "archive/byteorder", new byte[0])),
                "(archive/byteorder says '')");
        byte[] empty = object(tensor(pid("FloatStorage", "0", 0, false), 0, new long[] {0}, new long[] {1}));
        try (TorchFile f = TorchFile.open(zip("empty.pt", entries("archive/", empty, "archive/data/0", new byte[0])))) {
            assertEquals(0, ((TorchTensor) ((Map<?, ?>) f.root()).get("w")).numel());
        }
        refusedFile(Files.write(dir.resolve("pk.pt"), new byte[] {'P', 'K', 3, 4}), "starts like a zip torch checkpoint but is not a readable zip archive");
        refusedFile(zip("two.pt", entries("a/", ZIP_W, "b/data.pkl", ZIP_W, "a/data/0", f32(0.5f, 4))), "zip holds more than one */data.pkl");
        refusedFile(zip("root.pt", entries("/", ZIP_W, "/data/0", f32(0.5f, 4))), "zip has no */data.pkl");
    }

    @Test
    void zipPersistentIdsAreChecked() throws IOException {
        byte[] legacyId = object(tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {2}, new long[] {1}));
        refusedFile(zip("six.pt", entries("archive/", legacyId, "archive/data/0", f32(1, 2))),
                "unsupported persistent id tuple of 6 (expected ('storage', type, key, location, numel))");
        byte[] negative = object(tensor(pid("FloatStorage", "0", -2, false), 0, new long[] {0}, new long[] {1}));
        refusedFile(zip("neg.pt", entries("archive/", negative, "archive/data/0", f32(1, 2))), "unsupported persistent id");
        byte[] conflicting = bytes(0x80, 2, '}', str("a"), tensor(pid("FloatStorage", "0", 2, false), 0, new long[] {2}, new long[] {1}), 's',
                str("b"), tensor(pid("HalfStorage", "0", 2, false), 0, new long[] {2}, new long[] {1}), 's', '.');
        refusedFile(zip("conflict.pt", entries("archive/", conflicting, "archive/data/0", f32(1, 2))), "storage '0' referenced with conflicting types or sizes");
        byte[] resized = bytes(0x80, 2, '}', str("a"), tensor(pid("FloatStorage", "0", 2, false), 0, new long[] {2}, new long[] {1}), 's',
                str("b"), tensor(pid("FloatStorage", "0", 1, false), 0, new long[] {1}, new long[] {1}), 's', '.');
        refusedFile(zip("resized.pt", entries("archive/", resized, "archive/data/0", f32(1, 2))), "storage '0' referenced with conflicting types or sizes");
        byte[] largest = object(tensor(pid("FloatStorage", "0", Long.MAX_VALUE / 4, false), 0, new long[] {2}, new long[] {1}));
        refusedFile(zip("largest.pt", entries("archive/", largest, "archive/data/0", f32(1, 2))),
                "storage '0' (2305843009213693951 x F32) needs 9223372036854775804 bytes but its entry holds 8");
        byte[] huge = object(tensor(pid("DoubleStorage", "0", Long.MAX_VALUE / 4, false), 0, new long[] {2}, new long[] {1}));
        refusedFile(zip("huge.pt", entries("archive/", huge, "archive/data/0", f32(1, 2))), "storage '0' of 2305843009213693951 elements overflows");
    }

    /**
     * data.pkl's size as the zip's central directory declares it (what ZipFile reports) is checked against the limit before
     * anything is read, and against what the entry holds once read: a damaged archive whose entry is shorter than declared
     * is refused naming the entry, not unpickled from what was there.
     */
    @Test
    void aDataPklOfAnotherSizeThanDeclaredIsRefused() throws IOException {
        long[][] cases = {{ZIP_W.length + 10, 0}, {ZipTorchFormat.MAX_PICKLE_BYTES, 0}, {ZipTorchFormat.MAX_PICKLE_BYTES + 1, 1}};
        for (long[] c : cases) {
            Path f = zip("declared.pt", entries("archive/", ZIP_W, "archive/data/0", f32(0.5f, 4)));
            byte[] all = Files.readAllBytes(f), name = "archive/data.pkl".getBytes();
            int cen = 0;   // data.pkl's central directory record: "PK\1\2", its name at 46, its uncompressed size at 24
            while (!(all[cen] == 'P' && all[cen + 1] == 'K' && all[cen + 2] == 1 && all[cen + 3] == 2
                    && Arrays.equals(all, cen + 46, cen + 46 + name.length, name, 0, name.length))) cen++;
            ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putInt(cen + 24, (int) c[0]);
            Files.write(f, all);
            refusedFile(f, c[1] == 1 ? "archive/data.pkl declares " + c[0] + " bytes (limit 268435456)"
                    : "archive/data.pkl ended after " + ZIP_W.length + " bytes, expected " + c[0]);
        }
    }

    /** A refused zip checkpoint does not stay open (the archive is held open only by a TorchFile that loaded). */
    @Test
    void aRefusedZipIsClosed() throws IOException {
        Path bad = zip("bad.pt", entries("archive/", ZIP_W, "archive/byteorder", "big".getBytes()));
        List<Path> copies = new ArrayList<>();                           // distinct files: ZipFile shares one handle per file
        for (int i = 0; i < 64; i++) copies.add(Files.copy(bad, dir.resolve("bad" + i + ".pt")));
        long before = OpenFiles.count();
        for (Path c : copies) assertThrows(PickleException.class, () -> TorchFile.open(c));
        assertTrue(OpenFiles.count() < before + 16, before + " open files before, " + OpenFiles.count() + " after");
    }

    // ---- what kind of file --------------------------------------------------------------------------------

    @Test
    void filesThatAreNoPickleAreNamed() throws IOException {
        Map<String, byte[]> kinds = new LinkedHashMap<>();
        kinds.put("; it is a PNG image", new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10});
        kinds.put("; it is a JPEG image", new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0});
        kinds.put("; it is a GIF image", "GIF89a".getBytes());
        kinds.put("; it looks like JSON", "{\"a\": 1}".getBytes());
        kinds.put("; it looks like JSON ", "[1, 2]".getBytes());
        kinds.put("", "hello".getBytes());
        kinds.put(" ", new byte[0]);
        for (Map.Entry<String, byte[]> k : kinds.entrySet()) {
            Path f = Files.write(dir.resolve("not.pt"), k.getValue());
            PickleException e = assertThrows(PickleException.class, () -> TorchFile.open(f));
            assertEquals(f + ": not a torch checkpoint or pickle (neither a zip archive nor a pickle stream" + k.getKey().strip() + ")", e.getMessage());
        }
    }

    /** The whole of a non-zip pickle is mapped at once: 2^31 - 1 bytes are read, one more is refused (sparse files). */
    @Test
    void nonZipPicklesUpToTwoGibibytes() throws IOException {
        Path f = dir.resolve("big.pkl");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.write(new byte[] {(byte) 0x80, 2});
            raf.setLength(Integer.MAX_VALUE);
        }
        refusedFile(f, "unsupported pickle opcode 0x00 at byte 2");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(Integer.MAX_VALUE + 1L);
        }
        refusedFile(f, "a non-zip pickle of 2147483648 bytes is over the 2 GiB limit");
    }

    // ---- numpy scalars --------------------------------------------------------------------------------

    /** numpy.core.multiarray.scalar(numpy.dtype(descr) with byte order, raw). */
    private static Object numpy(String descr, String order, byte[] raw) throws IOException {
        return TorchFile.load(ByteBuffer.wrap(bytes('c', "numpy.core.multiarray\nscalar\n", 'c', "numpy\ndtype\n", 0x8c, descr.length(), descr, 0x89, 0x88, 0x87, 'R',
                '(', 'K', 3, 0x8c, 1, order, 'N', 'N', 'N', 'K', 0, 'K', 0, 'K', 0, 't', 'b',
                'C', raw.length, raw, 0x86, 'R', '.')), "np.pkl");
    }

    @Test
    void numpyScalarsOfEveryDtypeAndByteOrder() throws IOException {
        assertEquals(-1.5, numpy("f8", "<", le(Double.doubleToLongBits(-1.5), 8)));
        assertEquals(-1.5, numpy("f8", ">", ByteBuffer.allocate(8).putDouble(-1.5).array()));
        assertEquals(0.25, numpy("f4", "<", le(Float.floatToIntBits(0.25f), 4)));
        assertEquals(-7L, numpy("i8", "<", le(-7, 8)));
        assertEquals(-7L, numpy("i4", "<", le(-7, 4)));
        assertEquals(70000L, numpy("i4", ">", ByteBuffer.allocate(4).putInt(70000).array()));
        assertEquals(true, numpy("b1", "|", new byte[] {1}));
        assertEquals(false, numpy("b1", "|", new byte[] {0}));
        assertEquals("ok", numpy("U3", ">", new byte[] {0, 0, 0, 'o', 0, 0, 0, 'k', 0, 0, 0, 0}));
        assertEquals("", numpy("U2", "<", new byte[8]), "all padding");
        PickleException e = assertThrows(PickleException.class, () -> numpy("i2", "<", new byte[2]));
        assertTrue(e.getMessage().endsWith("numpy scalar of numpy.dtype('i2') is not supported"), e.getMessage());
        e = assertThrows(PickleException.class, () -> numpy("U1", "<", new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}));
        assertTrue(e.getMessage().endsWith("invalid UTF-32 in numpy scalar of numpy.dtype('U1')"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchFile.load(ByteBuffer.wrap(bytes('c', "numpy\ndtype\n", 0x8c, 2, "f8", 0x85, 'R',
                '(', 'K', 3, 't', 'b', '.')), "np.pkl"));
        assertTrue(e.getMessage().endsWith("unexpected numpy.dtype state tuple of 1"), e.getMessage());
        e = assertThrows(PickleException.class, () -> numpy("f8", "x", new byte[8]));
        assertTrue(e.getMessage().endsWith("unexpected numpy.dtype state tuple of 8"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchFile.load(ByteBuffer.wrap(bytes('c', "numpy\ndtype\n", ')', 'R', '.')), "np.pkl"));
        assertTrue(e.getMessage().endsWith("numpy.dtype(): only str/float/int/bool descriptors are supported"), e.getMessage());
    }

    // ---- reconstructor calls ------------------------------------------------------------------------------

    private static void refusedCall(String expected, Object... parts) {
        PickleException e = assertThrows(PickleException.class, () -> TorchFile.load(ByteBuffer.wrap(bytes(parts)), "t.pkl"));
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void reconstructorsCheckTheirArguments() {
        refusedCall("_rebuild_tensor_v2 called with 5 arguments, expected 6 to 7",
                'c', "torch._utils\n_rebuild_tensor_v2\n", '(', 'N', 'N', 'N', 'N', 'N', 't', 'R', '.');
        refusedCall("_rebuild_parameter called with 2 arguments, expected 3", 'c', "torch._utils\n_rebuild_parameter\n", 'N', 'N', 0x86, 'R', '.');
        PickleException one = assertThrows(PickleException.class,
                () -> TorchFile.load(ByteBuffer.wrap(bytes('c', "collections\nOrderedDict\n", 'N', 0x85, 'R', '.')), "t.pkl"));
        assertEquals("t.pkl: OrderedDict called with 1 arguments, expected 0", one.getMessage());
        refusedCall("_load_from_bytes called with 2 arguments, expected 1", 'c', "torch.storage\n_load_from_bytes\n", 'N', 'N', 0x86, 'R', '.');
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {1L << 31}, new long[] {0})), keys("0"), floats(2, 1, 2)),
                "tensor dimension 2147483648 is outside 0..2^31-1");
        refusedCall("BUILD of dict of 0 with None is not supported", 'c', "collections\nOrderedDict\n", ')', 'R', 'N', 'b', '.');
        refusedCall("REDUCE arguments must be a tuple, found None", 'c', "collections\nOrderedDict\n", 'N', 'R', '.');
    }

    /** A dict state on an OrderedDict (a state_dict's _metadata) is dropped. */
    @Test
    void orderedDictStateIsDropped() throws IOException {
        Object d = TorchFile.load(ByteBuffer.wrap(bytes('c', "collections\nOrderedDict\n", ')', 'R', '}', str("k"), 'K', 1, 's', 'b', '.')), "t.pkl");
        assertEquals(Map.of(), d);
    }

    // ---- views over storages ------------------------------------------------------------------------------

    private static TorchStorage storage(DType t, long numel, byte[] data) {
        return new TorchStorage("t.pt", "k", t, numel, (off, len) -> ByteBuffer.wrap(data, (int) off, len).slice());
    }

    @Test
    void viewsReadWhatTheyDescribe() throws IOException {
        TorchStorage one = storage(DType.F32, 2, f32(3, 9));
        assertArrayEquals(new double[] {9, 9, 9}, values(TorchTensor.of("t.pt", one, 1, new int[] {3}, new long[] {0}, false)), "a stride-0 (broadcast) view");
        TorchTensor empty = TorchTensor.of("t.pt", one, 99, new int[] {0, 5}, new long[] {5, 1}, false);
        assertEquals(0, empty.toBytes().remaining());
        TorchTensor huge = TorchTensor.of("t.pt", one, 0, new int[] {1 << 29}, new long[] {0}, false);   // 2 GiB of one element
        PickleException e = assertThrows(PickleException.class, huge::toBytes);
        assertEquals("t.pt: TorchTensor[536870912] F32 is over the 2 GiB limit of one host buffer", e.getMessage());
        assertEquals("TorchTensor[3] F32 requires_grad", TorchTensor.of("t.pt", one, 0, new int[] {3}, new long[] {0}, true).toString());
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", one, 0, new int[] {2}, new long[] {1, 1}, false));
        assertTrue(e.getMessage().endsWith(": shape and strides differ in rank"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", one, -1, new int[] {1}, new long[] {1}, false));
        assertTrue(e.getMessage().endsWith(": negative storage offset"), e.getMessage());
        int max = Integer.MAX_VALUE;   // a broadcast view over one element whose count overflows (was an ArithmeticException when read)
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", one, 0, new int[] {max, max, max}, new long[] {0, 0, 0}, false));
        assertTrue(e.getMessage().endsWith(": element count or extent overflows 64 bits"), e.getMessage());
        TorchTensor ids = TorchTensor.of("t.pt", storage(DType.I64, 1, new byte[8]), 0, new int[] {1}, new long[] {1}, false);
        assertThrows(IllegalArgumentException.class, () -> ids.toTensor(CPU, DType.F32));
    }

    /**
     * Malformed views found by fuzzing the tensor data: a negative size after an empty dimension (was an
     * IllegalArgumentException naming no file when read), a size below -2^31 (its int cast wrapped to a valid size), and
     * a stride-0 view of 2^31 - 1 bytes (was an OutOfMemoryError: beyond the largest array a JVM allocates).
     */
    @Test
    void malformedViewsAreRefusedNamingTheFile() throws IOException {
        TorchStorage one = storage(DType.F32, 2, f32(3, 9));
        PickleException e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", one, 0, new int[] {0, -1}, new long[] {1, 1}, false));
        assertTrue(e.getMessage().startsWith("t.pt: ") && e.getMessage().endsWith(": negative size or stride"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", one, 0, new int[] {0, 1}, new long[] {1, -1}, false));
        assertTrue(e.getMessage().endsWith(": negative size or stride"), e.getMessage());
        refused(bytes(MAGIC, VERSION, LITTLE, object(tensor(pid("FloatStorage", "0", 2, true), 0, new long[] {-(1L << 32) + 2}, new long[] {1})), keys("0"), floats(2, 1, 2)),
                "tensor dimension -4294967294 is outside 0..2^31-1");
        TorchTensor bytes = TorchTensor.of("t.pt", storage(DType.U8, 1, new byte[1]), 0, new int[] {Integer.MAX_VALUE}, new long[] {0}, false);
        e = assertThrows(PickleException.class, bytes::toBytes);
        assertEquals("t.pt: TorchTensor[2147483647] U8 is over the 2 GiB limit of one host buffer", e.getMessage());
    }

    @Test
    void storagesReadOnlyInsideThemselves() throws IOException {
        TorchStorage st = storage(DType.F32, 2, f32(3, 9));
        assertEquals(9f, st.read(1, 1).getFloat());
        assertEquals(0, st.read(2, 0).remaining());
        for (long[] bad : new long[][] {{-1, 1}, {1, -1}, {1, 2}, {3, 0}}) {
            PickleException e = assertThrows(PickleException.class, () -> st.read(bad[0], bad[1]));
            assertEquals("t.pt: elements [" + bad[0] + ", " + (bad[0] + bad[1]) + ") outside storage 'k' of 2", e.getMessage());
        }
        TorchStorage big = storage(DType.F32, 1L << 30, new byte[0]);
        PickleException e = assertThrows(PickleException.class, () -> big.read(0, 1L << 29));
        assertEquals("t.pt: reading 2147483648 bytes of storage 'k' at once: over the 2 GiB limit", e.getMessage());
        assertEquals("TorchStorage(k, F32, 2)", st.toString());
        TorchStorage bytes = new TorchStorage("t.pt", "u", DType.U8, 1L << 31, (off, len) -> ByteBuffer.allocate(0));
        assertEquals(0, bytes.read(0, Integer.MAX_VALUE).remaining(), "2^31 - 1 bytes are one read");
    }

    /** What error messages say about values: scalars and short strings in full, containers by kind and size only. */
    @Test
    void describeIsShortAndSaysWhatKind() throws PickleException {
        assertEquals("None", PickleException.describe(null));
        assertEquals("'" + "a".repeat(60) + "'", PickleException.describe("a".repeat(60)));
        assertEquals("'" + "a".repeat(60) + "...' (61 chars)", PickleException.describe("a".repeat(61)));
        assertEquals("3", PickleException.describe(3L));
        assertEquals("true", PickleException.describe(true));
        TorchStorage st = storage(DType.F32, 2, f32(3, 9));
        assertEquals("TorchStorage(k, F32, 2)", PickleException.describe(st));
        assertEquals("TorchTensor[2] F32", PickleException.describe(TorchTensor.of("t.pt", st, 0, new int[] {2}, new long[] {1}, false)));
        assertEquals("bytes of 4", PickleException.describe(new byte[4]));
        assertEquals("list of 2", PickleException.describe(new ArrayList<>(List.of(1, 2))));
        assertEquals("tuple of 2", PickleException.describe(List.of(1, 2)));
        assertEquals("dict of 1", PickleException.describe(Map.of(1, 2)));
        assertEquals("set of 0", PickleException.describe(Set.of()));
        assertEquals("10", PickleException.describe(BigInteger.TEN));
        assertEquals("Object", PickleException.describe(new Object()));
    }
}
