package dev.puppetengine.io.pickle;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads the fixtures written by tests/fixtures/make_torch_pickles.py (torch's exact layouts, made without torch). */
class TorchFileTest {
    private static final CpuBackend CPU = CpuBackend.get();

    @TempDir
    Path dir;

    static Path fixture(String name) {
        try {
            return Path.of(TorchFileTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    static double[] values(Object tensor) throws IOException {
        try (Tensor t = assertInstanceOf(TorchTensor.class, tensor).toTensor(CPU)) {
            return t.toDoubleArray();
        }
    }

    private static void assertMessage(Exception e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
    }

    @Test
    void protocol4PickleWithEmbeddedLegacyStorages() throws IOException {
        try (TorchFile f = TorchFile.open(fixture("embedded.pkl"))) {
            Map<?, ?> m = assertInstanceOf(Map.class, f.root());
            TorchTensor x = (TorchTensor) m.get("x");
            assertEquals(DType.F32, x.dtype());
            assertArrayEquals(new int[] {2, 3}, x.shape());
            assertArrayEquals(new double[] {-1, -0.5, 0, 0.5, 1, 1.5}, values(x));
            assertSame(x, m.get("x_again"), "memoized object comes back as the same instance");

            TorchTensor xt = (TorchTensor) m.get("xt");      // offset 1, size (3, 2), stride (1, 4) over arange(12)
            assertEquals(1, xt.storageOffset());
            assertArrayEquals(new long[] {1, 4}, xt.strides());
            assertArrayEquals(new double[] {1, 5, 2, 6, 3, 7}, values(xt));
            try (Tensor h = xt.toTensor(CPU, DType.BF16)) {
                assertEquals(DType.BF16, h.dtype());
                assertArrayEquals(new double[] {1, 5, 2, 6, 3, 7}, h.toDoubleArray());
            }

            TorchTensor half = (TorchTensor) m.get("half");
            assertEquals(DType.F16, half.dtype());
            assertArrayEquals(new double[] {1, -2, 65504}, values(half));
            TorchTensor ids = (TorchTensor) m.get("ids");
            assertEquals(DType.I64, ids.dtype());
            assertArrayEquals(new double[] {28}, values(ids));

            assertEquals(List.of("abc"), m.get("names"));
            assertEquals(List.of("ab_cd"), m.get("sub"), "numpy str_ scalar decoded from UTF-32 (numpy._core module name)");
            assertEquals(2.5, m.get("f8"));
            List<?> misc = (List<?>) m.get("misc");
            assertEquals(Arrays.asList(null, true, false, 3.25, -7L, 70000L, BigInteger.ONE.shiftLeft(70), "é✓"), misc);
            assertThrows(UnsupportedOperationException.class, () -> misc.add(null), "tuples are immutable");
        }
    }

    @Test
    void zipStateDict() throws IOException {
        Path file = fixture("state_dict.pt");
        TorchTensor weight;
        try (TorchFile f = TorchFile.open(file)) {
            Map<?, ?> root = (Map<?, ?>) f.root();
            Map<?, ?> sd = (Map<?, ?>) root.get("state_dict");
            assertEquals(List.of("conv.weight", "conv.bias", "view", "h", "bf", "d", "i", "mask"), List.copyOf(sd.keySet()));
            weight = (TorchTensor) sd.get("conv.weight");
            assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, values(weight));
            assertFalse(weight.requiresGrad());
            TorchTensor bias = (TorchTensor) sd.get("conv.bias");
            assertTrue(bias.requiresGrad(), "_rebuild_parameter keeps requires_grad");
            assertArrayEquals(new double[] {0.5, -0.25}, values(bias));
            TorchTensor view = (TorchTensor) sd.get("view");
            assertEquals("0", weight.storage().key());
            assertSame(weight.storage(), view.storage(), "one storage per key");
            assertArrayEquals(new double[] {1, 4}, values(view));
            assertArrayEquals(new double[] {0.5, -1.5, 1024}, values(sd.get("h")));
            assertEquals(DType.BF16, ((TorchTensor) sd.get("bf")).dtype());
            assertArrayEquals(new double[] {1, -3}, values(sd.get("bf")));
            assertArrayEquals(new double[] {1e-300, 2}, values(sd.get("d")));
            assertEquals(DType.I32, ((TorchTensor) sd.get("i")).dtype());
            assertArrayEquals(new double[] {-5, 6}, values(sd.get("i")));
            assertArrayEquals(new double[] {1, 0, 1}, values(sd.get("mask")));
            try (Tensor w = weight.toTensor(CPU, DType.F16)) {
                assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, w.toDoubleArray());
            }

            assertEquals(12345678L, root.get("step"));
            assertEquals(1e-4, root.get("lr"));
            List<?> names = (List<?>) root.get("names");
            assertEquals(300, names.size());
            assertEquals("n299", names.get(299));
            assertSame(names, root.get("names_again"));
            assertEquals("n299", root.get("last_name"));
            List<?> ema = (List<?>) root.get("ema");
            assertSame(sd.get("h"), ema.get(0));
            assertSame(sd.get("bf"), ema.get(1));
        }
        PickleException closed = assertThrows(PickleException.class, () -> weight.toTensor(CPU));
        assertMessage(closed, file.toString(), "after the checkpoint was closed");
    }

    @Test
    void legacyTorchSaveFile() throws IOException {
        try (TorchFile f = TorchFile.open(fixture("legacy.pt"))) {
            Map<?, ?> m = (Map<?, ?>) f.root();
            assertArrayEquals(new double[] {1.5, 2.5, 3.5, 4.5}, values(m.get("w")));
            assertArrayEquals(new double[] {-1, 0, 1L << 40}, values(m.get("n")));
        }
    }

    @Test
    void refusesAGlobalOutsideTheAllowList() {
        Path file = fixture("evil_system.pkl");
        PickleException e = assertThrows(PickleException.class, () -> TorchFile.open(file));
        assertMessage(e, file.toString(), "global posix.system is not on the allow list");
    }

    @Test
    void everyTruncationFailsCleanly() throws IOException {
        for (String name : List.of("embedded.pkl", "legacy.pt", "dragamove_tiny.pkl")) {
            byte[] all = Files.readAllBytes(fixture(name));
            for (int n = 0; n < all.length; n++) {
                ByteBuffer prefix = ByteBuffer.wrap(all, 0, n).slice();
                PickleException e = assertThrows(PickleException.class, () -> TorchFile.load(prefix, "cut.pkl"), name + " cut at " + n);
                assertTrue(e.getMessage().startsWith("cut.pkl"), e.getMessage());
            }
            Path cut = dir.resolve("cut-" + name);                // and once through the file path
            Files.write(cut, Arrays.copyOf(all, all.length / 2));
            assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(cut)), cut.toString(), "truncated");
        }
    }

    @Test
    void zipWithMissingOrShortStorage() throws IOException {
        Path shortData = rewriteZip("short.pt", (name, data) -> name.equals("archive/data/0") ? Arrays.copyOf(data, 20) : data);
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(shortData)),
                "storage '0' (6 x F32) needs 24 bytes but its entry holds 20");
        Path missing = rewriteZip("missing.pt", (name, data) -> name.equals("archive/data/3") ? null : data);
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(missing)), "storage '3' has no entry archive/data/3");
        Path noPickle = rewriteZip("nopkl.pt", (name, data) -> name.endsWith("data.pkl") ? null : data);
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(noPickle)), "no */data.pkl");
        Path bigEndian = rewriteZip("be.pt", (name, data) -> name.endsWith("byteorder") ? "big".getBytes() : data);
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(bigEndian)), "only little-endian");
    }

    /** Found by fuzzing: an end record whose comment length overruns the file made ZipFile throw a bare EOFException (exit 1, no file named). */
    @Test
    void zipWhoseEndRecordOverrunsTheFileIsRefusedNamingIt() throws IOException {
        byte[] all = Files.readAllBytes(fixture("state_dict.pt"));
        all[all.length - 2] = 9;   // the end-of-central-directory record's comment length (its last two bytes): 9 bytes that are not there
        Path bad = Files.write(dir.resolve("comment.pt"), all);
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(bad)), bad.toString(), "not a readable zip archive");
    }

    private interface EntryEdit {
        byte[] apply(String name, byte[] data);
    }

    /** A copy of state_dict.pt with entries changed or (null) dropped. */
    private Path rewriteZip(String name, EntryEdit edit) throws IOException {
        Path out = dir.resolve(name);
        try (ZipFile in = new ZipFile(fixture("state_dict.pt").toFile()); OutputStream os = Files.newOutputStream(out);
             ZipOutputStream zos = new ZipOutputStream(os)) {
            for (ZipEntry e : Collections.list(in.entries())) {
                byte[] data;
                try (InputStream is = in.getInputStream(e)) {
                    data = edit.apply(e.getName(), is.readAllBytes());
                }
                if (data == null) continue;
                zos.putNextEntry(new ZipEntry(e.getName()));
                zos.write(data);
                zos.closeEntry();
            }
        }
        return out;
    }

    @Test
    void plainPickleWithTrailingBytesIsRejected() throws IOException {
        Path f = dir.resolve("trailing.pkl");
        Files.write(f, new byte[] {(byte) 0x80, 4, 'N', '.', 'x', 'y'});
        assertMessage(assertThrows(PickleException.class, () -> TorchFile.open(f)), "2 unexpected bytes after the pickle's STOP");
        Files.write(f, new byte[] {(byte) 0x80, 4, 'N', '.'});
        try (TorchFile t = TorchFile.open(f)) {
            assertNull(t.root());
        }
    }

}
