package dev.puppetengine.io.pickle;

import dev.puppetengine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static dev.puppetengine.testing.TorchPickles.LITTLE;
import static dev.puppetengine.testing.TorchPickles.MAGIC;
import static dev.puppetengine.testing.TorchPickles.VERSION;
import static dev.puppetengine.testing.TorchPickles.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-assembled opcode streams: the opcodes torch files rarely emit, and everything that must be refused. */
class UnpicklerTest {
    private static Object load(Object... parts) throws IOException {
        return TorchFile.load(ByteBuffer.wrap(bytes(parts)), "test.pkl");
    }

    private static void refused(String expected, Object... parts) {
        PickleException e = assertThrows(PickleException.class, () -> load(parts));
        assertTrue(e.getMessage().startsWith("test.pkl"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void refusesGlobalsOutsideTheAllowList() {
        // Protocol 2 GLOBAL, then what would call it: refused at the GLOBAL, before anything could run.
        refused("global os.system is not on the allow list", 0x80, 2, 'c', "os\nsystem\n", 'X', 2, 0, 0, 0, "ls", 0x85, 'R', '.');
        // Protocol 4 STACK_GLOBAL.
        refused("global builtins.eval is not on the allow list",
                0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x8c, 1, "1", 0x85, 'R', '.');
        refused("global torch.load is not on the allow list", 'c', "torch\nload\n", '.');
        refused("global torch.ShortStorage is not on the allow list", 'c', "torch\nShortStorage\n", '.');
        refused("global __builtin__.getattr is not on the allow list", 'c', "__builtin__\ngetattr\n", '.');
    }

    @Test
    void refusesCallingAnythingButReconstructors() {
        refused("REDUCE of None: only allow-listed reconstructors can be called", 'N', ')', 'R', '.');
        refused("REDUCE of StorageType", 'c', "torch\nFloatStorage\n", ')', 'R', '.');
        refused("BUILD of list of 0 with None is not supported", ']', 'N', 'b', '.');
    }

    @Test
    void nestedEmbeddedStreamsAreRefused() {
        // A legacy stream whose object is _load_from_bytes(...) again: only the outer pickle may embed streams.
        byte[] inner = bytes(MAGIC, VERSION, LITTLE, 0x80, 2, 'c', "torch.storage\n_load_from_bytes\n", 'C', 0, 0x85, 'R', '.');
        PickleException e = assertThrows(PickleException.class, () -> TorchFile.load(ByteBuffer.wrap(inner), "outer.pkl"));
        assertTrue(e.getMessage().contains("global torch.storage._load_from_bytes is not on the allow list"), e.getMessage());
        // The same stream embedded in a plain pickle gets as far as the nested call and is refused there.
        refused("test.pkl (embedded torch.save bytes): global torch.storage._load_from_bytes",
                'c', "torch.storage\n_load_from_bytes\n", 'B', inner.length, 0, 0, 0, inner, 0x85, 'R', '.');
    }

    @Test
    void malformedStreams() {
        refused("truncated pickle: input ends at byte 2 before STOP", 0x80, 2);
        refused("truncated pickle: BINUNICODE at byte 0 needs 100 bytes, 2 left", 'X', 100, 0, 0, 0, "ab");
        refused("truncated pickle: BINBYTES at byte 0 needs 4294967295 bytes", 'B', 0xff, 0xff, 0xff, 0xff, '.');
        refused("truncated pickle: FRAME at byte 2 needs 1000 bytes", 0x80, 4, 0x95, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 'N', '.');
        refused("malformed pickle: stack underflow at byte 1 (APPEND)", ']', 'a', '.');
        refused("stack underflow", '(', 0x85, '.');                   // TUPLE1 may not reach below a MARK
        refused("malformed pickle: no MARK before TUPLE", 't', '.');
        refused("malformed pickle: memo entry 5 used before it was defined (BINGET at byte 0)", 'h', 5, '.');
        refused("malformed pickle: memo entry 70000 used before it was defined (LONG_BINGET", 'j', 0x70, 0x11, 1, 0, '.');
        refused("unsupported pickle opcode 0x81 at byte 3", 'N', ')', ')', 0x81, '.');   // NEWOBJ
        refused("unsupported pickle opcode 0x69 'i' at byte 0", 'i', "os\nsystem\n", '.');  // INST
        refused("unsupported pickle protocol 6", 0x80, 6, 'N', '.');
        refused("malformed pickle: 1 values and 0 marks left at STOP", 'N', 'N', '.');
        refused("APPEND on tuple of 0, expected a list", ')', 'N', 'a', '.');
        refused("SETITEMS with an odd number (1) of keys and values", '}', '(', 'N', 'u', '.');
        refused("invalid UTF-8 in SHORT_BINUNICODE", 0x8c, 1, new byte[] {(byte) 0xff}, '.');
        refused("BINPERSID (persistent id 'x') in a pickle without a storage table", 0x8c, 1, "x", 'Q', '.');
        refused("non-ASCII byte in GLOBAL name", 'c', "to\u0001rch\nx\n", '.');
        // A list that contains itself, used as a dict key: refused instead of hashing forever.
        refused("SETITEM with key list of 1: keys must be str", '}', ']', 0x94, 'h', 0, 'a', 'N', 's', '.');
        refused("ADDITEMS with key tuple of 1", 0x8f, '(', ']', 0x85, 0x90, '.');
    }

    @Test
    void lessCommonOpcodes() throws IOException {
        // DICT from a MARK, SETITEM, SHORT_BINSTRING, BININT (negative), BINFLOAT (big-endian), LONG1.
        Object d = load('(', 'U', 1, "a", 'J', 0xfe, 0xff, 0xff, 0xff, 'U', 1, "b",
                'G', new byte[] {0x3f, (byte) 0xf8, 0, 0, 0, 0, 0, 0}, 'd',
                'U', 1, "c", 0x8a, 1, 0xff, 's', 'U', 1, "z", 0x8a, 0, 's', '.');
        Map<Object, Object> expected = new LinkedHashMap<>();
        expected.put("a", -2L);
        expected.put("b", 1.5);
        expected.put("c", -1L);
        expected.put("z", 0L);
        assertEquals(expected, d);
        // EMPTY_SET + ADDITEMS, EMPTY_LIST + APPENDS, LONG_BINPUT / LONG_BINGET, MEMOIZE (index = memo size) / BINGET.
        Object l = load(']', 'r', 0x00, 0x00, 0x01, 0x00, '(', 0x8f, '(', 'K', 1, 'K', 2, 0x90, 0x94, 'h', 1, 'j', 0x00, 0x00, 0x01, 0x00,
                0x85, 'e', '.');
        List<?> list = (List<?>) l;
        assertEquals(3, list.size());
        assertEquals(Set.of(1L, 2L), list.get(0));
        assertEquals(list.get(0), list.get(1));
        assertEquals(list, ((List<?>) list.get(2)).get(0), "LONG_BINGET returns the list itself");
    }

    /** Truncated fixed-size operands fail as truncation (not as an unchecked buffer underflow); boundaries of protocol and frames. */
    @Test
    void operandsAndFramesAtTheirLimits() throws IOException {
        refused("truncated pickle: BININT at byte 0 needs 4 bytes, 2 left", 'J', 1, 2);
        refused("truncated pickle: BINFLOAT at byte 0 needs 8 bytes, 3 left", 'G', 1, 2, 3);
        assertEquals(null, load(0x80, 5, 'N', '.'), "protocol 5 is the newest supported");
        assertEquals(null, load(0x80, 4, 0x95, 2, 0, 0, 0, 0, 0, 0, 0, 'N', '.'), "a frame that ends exactly at the end of the input");
        assertEquals(null, load(0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, 'N', '.'), "an empty frame");
        refused("unsupported pickle opcode 0x20 ' ' at byte 0", ' ', '.');
        refused("unsupported pickle opcode 0x7f at byte 0", 0x7f, '.');
        refused("malformed pickle: 0 values and 1 marks left at STOP", '(', 'N', '.');
    }

    /** LONG1 values that fit a long come back as Long, the others (2^63 needs 64 bits unsigned) as BigInteger. */
    @Test
    void long1AtTheEdgesOfALong() throws IOException {
        assertEquals(Long.MIN_VALUE, load(0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, '.'));
        assertEquals(Long.MAX_VALUE, load(0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '.'));
        assertEquals(BigInteger.ONE.shiftLeft(63), load(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, '.'));
        assertEquals(BigInteger.ONE.shiftLeft(64).negate().add(BigInteger.ONE.shiftLeft(63)).subtract(BigInteger.ONE),
                load(0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, '.'));
    }

    /** Dict keys may be any scalar or a flat tuple of scalars; a tuple holding a container is refused like a list. */
    @Test
    void dictKeysOfEveryScalarKind() throws IOException {
        Map<?, ?> d = (Map<?, ?>) load('}', '(', 'N', 'K', 0, 0x8c, 1, "s", 'K', 1, 'K', 7, 'K', 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'K', 3,
                'G', new byte[] {0x3f, (byte) 0xf8, 0, 0, 0, 0, 0, 0}, 'K', 4, 0x88, 'K', 5, 'K', 1, 'K', 2, 0x86, 'K', 6, 'u', '.');
        assertEquals(Arrays.asList(null, "s", 7L, BigInteger.ONE.shiftLeft(64), 1.5, true, List.of(1L, 2L)), new ArrayList<>(d.keySet()));
        refused("SETITEM with key tuple of 1: keys must be str", '}', ']', 0x85, 'N', 's', '.');
        refused("ADDITEMS with key tuple of 1", 0x8f, '(', '}', 0x85, 0x90, '.');
    }

    /** GLOBAL names are printable ASCII: a control or DEL byte is refused where it is; a space is left to the allow list. */
    @Test
    void globalNamesArePrintableAscii() {
        refused("malformed pickle: non-ASCII byte in GLOBAL name at byte 3", 'c', "to\u001frch\nx\n", '.');
        refused("malformed pickle: non-ASCII byte in GLOBAL name at byte 4", 'c', "tor\u007fch\nx\n", '.');
        refused("global torch.Float Storage is not on the allow list", 'c', "torch\nFloat Storage\n", '.');
    }

    @Test
    void numpyScalarsAndDtypes() throws IOException {
        Object s = load('c', "numpy.core.multiarray\nscalar\n", 'c', "numpy\ndtype\n", 0x8c, 2, "U3", 0x89, 0x88, 0x87, 'R',
                '(', 'K', 3, 0x8c, 1, "<", 'N', 'N', 'N', 'K', 12, 'K', 4, 'K', 8, 't', 'b',
                'C', 12, new byte[] {'h', 0, 0, 0, 'i', 0, 0, 0, 0, 0, 0, 0}, 0x86, 'R', '.');
        assertEquals("hi", s);
        refused("numpy scalar of numpy.dtype('U3') has 4 bytes, expected 12",
                'c', "numpy.core.multiarray\nscalar\n", 'c', "numpy\ndtype\n", 0x8c, 2, "U3", 0x89, 0x88, 0x87, 'R',
                'C', 4, "abcd", 0x86, 'R', '.');
        refused("only str/float/int/bool descriptors", 'c', "numpy\ndtype\n", 0x8c, 2, "O8", 0x85, 'R', '.');
    }

    @Test
    void tensorViewsMustStayInsideTheirStorage() throws PickleException {
        TorchStorage st = new TorchStorage("t.pt", "k", DType.F32, 6, (off, len) -> ByteBuffer.allocate(len));
        TorchTensor ok = TorchTensor.of("t.pt", st, 0, new int[] {2, 3}, new long[] {3, 1}, false);
        assertEquals(6, ok.numel());
        PickleException e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", st, 1, new int[] {2, 3}, new long[] {3, 1}, false));
        assertTrue(e.getMessage().contains("reaches element 6 beyond the storage"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", st, 0, new int[] {2}, new long[] {-1}, false));
        assertTrue(e.getMessage().contains("negative size or stride"), e.getMessage());
        e = assertThrows(PickleException.class, () -> TorchTensor.of("t.pt", st, 0, new int[] {Integer.MAX_VALUE, 3}, new long[] {Long.MAX_VALUE / 2, 1}, false));
        assertTrue(e.getMessage().contains("extent overflows"), e.getMessage());
        assertEquals(0, TorchTensor.of("t.pt", st, 99, new int[] {0, 5}, new long[] {5, 1}, false).numel(), "empty views need no storage");
    }

    @Test
    void randomCorruptionNeverEscapesAsAnUncheckedException() throws Exception {
        Random rng = new Random(1);
        for (String name : List.of("embedded.pkl", "legacy.pt")) {
            byte[] good = Files.readAllBytes(TorchFileTest.fixture(name));
            for (int trial = 0; trial < 3000; trial++) {
                byte[] bad = Arrays.copyOf(good, good.length);
                for (int k = 1 + rng.nextInt(3); k > 0; k--) bad[rng.nextInt(bad.length)] = (byte) rng.nextInt(256);
                try {
                    TorchFile.load(ByteBuffer.wrap(bad), "fuzz");
                } catch (PickleException expected) {
                    // a clean rejection
                } catch (RuntimeException e) {
                    throw new AssertionError(name + " trial " + trial + " escaped as " + e, e);
                }
            }
        }
    }
}
