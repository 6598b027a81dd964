package dev.puppetengine.io.safetensors;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.OpenFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SafetensorsTest {
    private static final CpuBackend CPU = CpuBackend.get();

    @TempDir
    Path dir;

    // ---- round trips --------------------------------------------------------------------------------

    @Test
    void roundTripsEveryDtypeWithMetadata() throws IOException {
        Path f = dir.resolve("all.safetensors");
        Map<String, double[]> values = new LinkedHashMap<>();
        values.put("f64", new double[] {1e300, -2.5, Math.PI, 0});
        values.put("f32", new double[] {1.5f, -3.25f, 1e-40f, 7});                 // 1e-40f: subnormal
        values.put("bf16", new double[] {1.0078125, -256, Float.intBitsToFloat(0x7F610000), 0.5}); // representable in bf16
        values.put("f16", new double[] {65504, -0x1p-14, 0x1p-24, 1}); // max, min normal, min subnormal
        values.put("i64", new double[] {-(1L << 52), 1L << 40, -1, 0});
        values.put("i32", new double[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -7, 3});
        values.put("u8", new double[] {0, 255, 128, 1});
        values.put("bool", new double[] {1, 0, 0, 1});
        Map<String, String> meta = Map.of("format", "pt", "note", "héllo \"quoted\" ✓");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (DType t : DType.values()) {
                String name = t.name().toLowerCase(Locale.ROOT);
                tensors.put(name, Tensor.of(CPU, t, new int[] {2, 2}, values.get(name)));
            }
            tensors.put("scalar", Tensor.of(CPU, DType.F32, new int[0], 42.0));
            tensors.put("transposed", Tensor.of(CPU, DType.F32, new int[] {2, 3}, 1, 2, 3, 4, 5, 6).transpose(0, 1)); // written in logical order
            tensors.put("empty", CPU.empty(DType.F16, 3, 0));
            SafetensorsWriter.write(f, meta, tensors);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            assertEquals(meta, r.metadata());
            List<String> names = r.entries().stream().map(SafetensorsEntry::name).toList();
            assertEquals(List.of("f64", "f32", "bf16", "f16", "i64", "i32", "u8", "bool", "scalar", "transposed", "empty"), names);
            long pos = 0;
            for (SafetensorsEntry e : r.entries()) {
                assertEquals(pos, e.begin(), "packed without gaps in the order given: " + e);
                pos = e.end();
            }
            for (DType t : DType.values()) {
                String name = t.name().toLowerCase(Locale.ROOT);
                Tensor x = r.load(name, CPU);
                assertEquals(t, x.dtype());
                assertArrayEquals(new int[] {2, 2}, x.shape());
                assertArrayEquals(values.get(name), x.toDoubleArray(), name);
            }
            assertEquals(42, r.load("scalar", CPU).item());
            assertArrayEquals(new int[0], r.entry("scalar").shape());
            assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, r.load("transposed", CPU).toDoubleArray());
            assertArrayEquals(new int[] {3, 0}, r.load("empty", CPU).shape());
        }
        byte[] raw = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "data section 8-byte aligned");
        assertEquals(' ', raw[(int) (8 + n - 1)], "header padded with spaces");
        assertTrue(new String(raw, 8, (int) n, StandardCharsets.UTF_8).startsWith("{\"__metadata__\":{"));
    }

    @Test
    void streamsTensorsFromSuppliersInOrder() throws IOException {
        Path f = dir.resolve("streamed.safetensors");
        List<String> calls = new ArrayList<>();
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int k = i;
            items.add(new SafetensorsWriter.Item("t" + i, DType.F32, new int[] {k + 1}, out -> {
                calls.add("t" + k);
                for (int j = 0; j <= k; j++)    // one piece per value: a tensor may come in any number of pieces
                    out.put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(10 * k + j).flip());
            }));
        }
        SafetensorsWriter.write(f, Map.of(), items);
        assertEquals(List.of("t0", "t1", "t2"), calls);
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            assertEquals(Map.of(), r.metadata());
            assertArrayEquals(new double[] {20, 21, 22}, r.load("t2", CPU).toDoubleArray());
            assertFalse(new String(Files.readAllBytes(f), StandardCharsets.UTF_8).contains("__metadata__"));
        }
    }

    // ---- dtype conversion on load ---------------------------------------------------------------------

    private short[] loadShorts(Path f, String name, DType to) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(f); Tensor t = r.load(name, CPU, to)) {
            assertEquals(to, t.dtype());
            ByteBuffer b = t.toBytes();
            short[] out = new short[b.remaining() / 2];
            b.asShortBuffer().get(out);
            return out;
        }
    }

    private Path single(String name, DType t, double... v) throws IOException {
        Path f = dir.resolve(name + ".safetensors");
        try (Tensor x = Tensor.of(CPU, t, new int[] {v.length}, v)) {
            SafetensorsWriter.write(f, Map.of(), Map.of(name, x));
        }
        return f;
    }

    @Test
    void convertsF32ToHalfTypesRoundingToNearestEven() throws IOException {
        Path f = single("x", DType.F32, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 0x1p-24, 65520, -0.0);
        // bf16: 1+2^-8 is the tie between 1 and 1+2^-7 -> even (1.0); 1+3*2^-8 ties up to 1+2^-6.
        assertArrayEquals(new short[] {0x3F80, 0x3F82, 0x3F80, 0x3F80, 0x3380, 0x4780, (short) 0x8000}, loadShorts(f, "x", DType.BF16));
        // f16: 1+2^-8 and 1+3*2^-8 are exact; 1+2^-11 ties down to 1.0, 1+3*2^-11 ties up to 1+2^-9; 2^-24 is the
        // smallest subnormal; 65520 ties between 65504 and the next (infinite) step -> inf.
        assertArrayEquals(new short[] {0x3C04, 0x3C0C, 0x3C00, 0x3C02, 0x0001, 0x7C00, (short) 0x8000}, loadShorts(f, "x", DType.F16));
    }

    @Test
    void convertsF64WithoutDoubleRounding() throws IOException {
        // (float) of 1+2^-8+2^-40 is the bf16 tie 1+2^-8 (-> 1.0 by even), but the value itself is above the tie
        // and must round up; likewise 1+2^-11+2^-40 for f16.
        Path f = single("d", DType.F64, 1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-11 + 0x1p-40, 1e300);
        assertArrayEquals(new short[] {0x3F81, 0x3F80, 0x7F80}, loadShorts(f, "d", DType.BF16));
        assertArrayEquals(new short[] {0x3C04, 0x3C01, 0x7C00}, loadShorts(f, "d", DType.F16));
        try (SafetensorsReader r = SafetensorsReader.open(f); Tensor t = r.load("d", CPU, DType.F32)) {
            assertArrayEquals(new double[] {(float) (1 + 0x1p-8), (float) (1 + 0x1p-11), Double.POSITIVE_INFINITY}, t.toDoubleArray());
        }
    }

    @Test
    void convertsBetweenHalfTypesAndUpToF32Exactly() throws IOException {
        // f16 1+2^-10 is not a bf16 value: the tie 1+2^-8 is not reached, rounds down; 1+3*2^-8 (exact f16) ties up.
        Path f = single("h", DType.F16, 1 + 0x1p-10, 1 + 3 * 0x1p-8, 65504, 0x1p-24);
        assertArrayEquals(new short[] {0x3F80, 0x3F82, 0x4780, 0x3380}, loadShorts(f, "h", DType.BF16));
        Path g = single("b", DType.BF16, 1 + 0x1p-7, 0x1p-30, Float.intBitsToFloat(0x7F610000));
        assertArrayEquals(new short[] {0x3C08, 0x0000, 0x7C00}, loadShorts(g, "b", DType.F16));
        try (SafetensorsReader r = SafetensorsReader.open(g); Tensor t = r.load("b", CPU, DType.F32)) {
            assertArrayEquals(new double[] {1 + 0x1p-7, 0x1p-30, Float.intBitsToFloat(0x7F61 << 16)}, t.toDoubleArray());
        }
    }

    @Test
    void refusesIntegerConversionAndUnknownNames() throws IOException {
        Path f = single("ids", DType.I64, 1, 2, 3);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> r.load("ids", CPU, DType.F32));
            assertTrue(e.getMessage().contains("tensor 'ids' is I64 and cannot be loaded as F32"), e.getMessage());
            e = assertThrows(SafetensorsException.class, () -> r.load("nope", CPU));
            assertTrue(e.getMessage().startsWith(f + ": no tensor 'nope'"), e.getMessage());
        }
    }

    @Test
    void loadsChosenRowsInTheirOrderAndRefusesRowsOutsideTheTensor() throws IOException {
        Path f = dir.resolve("rows.safetensors");
        double[] v = new double[5 * 2 * 3];
        for (int i = 0; i < v.length; i++) v[i] = i + 0.25;
        try (Tensor first = Tensor.of(CPU, DType.F32, new int[] {3}, -1, -2, -3); Tensor x = Tensor.of(CPU, DType.F32, new int[] {5, 2, 3}, v)) {
            Map<String, Tensor> both = new LinkedHashMap<>();
            both.put("first", first);   // x's data does not begin at the data section's start
            both.put("x", x);
            SafetensorsWriter.write(f, Map.of(), both);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            long[] rows = {3, 0, 1, 2, 2, 4, 2, 1, 0};   // a run (0, 1, 2) read at once, a repeat, out of order, and descending (no run)
            Tensor t = r.loadRows("x", rows, CPU, DType.F64);
            assertArrayEquals(new int[] {9, 2, 3}, t.shape());
            double[] got = t.toDoubleArray();
            for (int i = 0; i < rows.length; i++)
                for (int j = 0; j < 6; j++) assertEquals(v[(int) rows[i] * 6 + j], got[i * 6 + j], 0, "row " + rows[i]);
            assertArrayEquals(new double[] {24.25, 25.25, 26.25, 27.25, 28.25, 29.25}, r.loadRows("x", new long[] {4}, CPU, DType.BF16).to(DType.F64).toDoubleArray());
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("x", new long[] {3, 4, 5}, CPU, DType.F32)),
                    "tensor 'x' has 5 rows; row 5 asked for");
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("x", new long[] {-1}, CPU, DType.F32)),
                    "tensor 'x' has 5 rows; row -1 asked for");
        }
    }

    /**
     * open hands its header consumer the file's first 8 + n bytes, in order, before the tensors: a caller hashing the file
     * while reading it (the tensors follow in entries() order) hashes every byte once.
     */
    @Test
    void theHeaderConsumerSeesTheLengthAndTheJsonThatBeginTheFile() throws IOException {
        Path f = dir.resolve("hashed.safetensors");
        String json = "{" + entry("a", "U8", "[3]", 0, 3) + "}";
        writeRaw(f, json, 3);
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        try (SafetensorsReader r = SafetensorsReader.open(f, b -> {
            byte[] part = new byte[b.remaining()];
            b.get(part);
            seen.writeBytes(part);
        })) {
            assertEquals(List.of(r.entry("a")), r.entries());
        }
        assertArrayEquals(Arrays.copyOf(Files.readAllBytes(f), 8 + json.length()), seen.toByteArray());
    }

    /** loadRows refuses, naming the tensor, what has no rows, cannot convert, or asks past the end; empty shapes load. */
    @Test
    void loadRowsRefusesScalarsConversionsAndRowsPastTheEnd() throws IOException {
        Path f = dir.resolve("odd.safetensors");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put("s", Tensor.of(CPU, DType.F32, new int[0], 1.0));
            t.put("ids", Tensor.of(CPU, DType.I64, new int[] {2}, 1, 2));
            t.put("none", CPU.empty(DType.F32, 0, 3));
            t.put("thin", CPU.empty(DType.F32, 3, 0));
            t.put("x", Tensor.of(CPU, DType.F32, new int[] {5}, 0, 1, 2, 3, 4));
            SafetensorsWriter.write(f, Map.of(), t);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("s", new long[] {0}, CPU, DType.F32)),
                    "tensor 's' is a scalar; it has no rows to load");
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("ids", new long[] {0}, CPU, DType.F32)),
                    "tensor 'ids' is I64 and cannot be loaded as F32");
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("none", new long[] {0}, CPU, DType.F32)),
                    "tensor 'none' has 0 rows; row 0 asked for");
            assertArrayEquals(new int[] {0, 3}, r.loadRows("none", new long[0], CPU, DType.F32).shape());
            assertArrayEquals(new int[] {2, 0}, r.loadRows("thin", new long[] {2, 0}, CPU, DType.F32).shape());
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("x", new long[] {0, 1, 2, 3, 4, 5}, CPU, DType.F32)),
                    "tensor 'x' has 5 rows; row 5 asked for");     // a run from row 0 that runs past the end
            assertArrayEquals(new double[] {0, 1, 2, 3, 4}, r.loadRows("x", new long[] {0, 1, 2, 3, 4}, CPU, DType.F32).toDoubleArray());
        }
    }

    /** A file cut short after it was opened (another process rewriting it) fails the read, naming the file, instead of waiting forever. */
    @Test
    void aFileTruncatedAfterOpeningFailsTheRead() throws IOException {
        Path f = single("x", DType.F32, 1, 2, 3, 4);
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            long dataStart = Files.size(f) - 16;
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(dataStart + 6);
            }
            InputFileException e = assertThrows(InputFileException.class, () -> r.loadRows("x", new long[] {0, 1, 2, 3}, CPU, DType.F32));
            assertEquals(f + ": ends at byte " + (dataStart + 6) + ", inside the data its header describes (cut short since it was opened?)", e.getMessage());
            // a whole tensor is mapped: that was an IOException naming no file ("cannot extend file to required size")
            e = assertThrows(InputFileException.class, () -> r.load("x", CPU));
            assertEquals(f + ": ends at byte " + (dataStart + 6) + ", inside the data its header describes (cut short since it was opened?)", e.getMessage());
        }
    }

    /** A file without tensors (nothing after the header) is valid and round-trips. */
    @Test
    void roundTripsAFileWithoutTensors() throws IOException {
        Path f = dir.resolve("empty.safetensors");
        SafetensorsWriter.write(f, Map.of(), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(List.of(), r.entries());
            assertEquals(Map.of(), r.metadata());
            assertFalse(r.contains("x"));
        }
    }

    /** A header need not list tensors in data order (Python's writer sorts the keys): they are checked and listed in data order. */
    @Test
    void headerEntriesInAnyOrder() throws IOException {
        Path f = dir.resolve("order.safetensors");
        writeRaw(f, "{" + entry("a_late", "U8", "[4]", 4, 8) + "," + entry("b_early", "F32", "[1]", 0, 4) + "}", 8);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(List.of("b_early", "a_late"), r.entries().stream().map(SafetensorsEntry::name).toList());
            assertTrue(r.contains("a_late"));
            assertEquals(4, r.entry("a_late").begin());
            assertEquals(f, r.file());
        }
    }

    /** Neither a refused file nor a closed reader keeps the file open (a converter opens thousands; Windows cannot delete an open file). */
    @Test
    void refusedAndClosedFilesAreNotLeftOpen() throws IOException {
        Path good = single("w", DType.F32, 1, 2);
        Path bad = dir.resolve("bad.safetensors");
        writeRaw(bad, "[1]", 0);
        long before = OpenFiles.count();
        for (int i = 0; i < 64; i++) {
            SafetensorsReader.open(good).close();
            assertThrows(SafetensorsException.class, () -> SafetensorsReader.open(bad));
        }
        assertTrue(OpenFiles.count() < before + 16, before + " open files before, " + OpenFiles.count() + " after");
    }

    /**
     * Loading leaves no memory mapping of the file behind: a mapping lives until the GC frees it, hundreds per model load,
     * and keeps a deleted checkpoint's disk space held meanwhile.
     */
    @Test
    void loadingLeavesNoMappingOfTheFile() throws IOException {
        Path maps = Path.of("/proc/self/maps");
        assumeTrue(Files.isReadable(maps), "lists this process's mappings on Linux");
        Path f = single("w", DType.F32, 3, 4);
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            r.load("w", CPU, DType.BF16);
            r.read("w");
        }
        String file = f.toAbsolutePath().toString();
        assertEquals(List.of(), Files.readAllLines(maps).stream().filter(l -> l.endsWith(file)).toList());
    }

    // ---- large files ----------------------------------------------------------------------------------

    /**
     * A read into a heap buffer goes through a temporary direct buffer as large as the read, which the JDK then keeps for
     * the thread (sun.nio.ch.Util's buffer cache): a tensor read whole would hold that much native memory beside the heap
     * copy for as long as the thread lives (the main thread: the process), and needs it free under -XX:MaxDirectMemorySize.
     * Reads go in bounded chunks, so read and loadRows of a 256 MiB tensor leave well under that (a sparse file).
     */
    @Test
    void readsDoNotLeaveATensorSizedDirectBufferBehind() throws Exception {
        long big = 256L << 20;
        Path f = dir.resolve("direct.safetensors");
        long dataStart = writeRaw(f, "{" + entry("big", "U8", "[" + big + "]", 0, big) + "," + entry("rows", "U8", "[2," + big / 2 + "]", big, 2 * big) + "}", 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(dataStart + 2 * big);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            long read = directGrowth(() -> assertEquals(big, r.read("big").remaining()));
            long rows = directGrowth(() -> {
                try (Scope s = Scope.open()) {   // scopes are per thread
                    assertEquals(big, r.loadRows("rows", new long[] {0, 1}, CPU, DType.U8).numel());
                }
            });
            assertTrue(read < big / 8 && rows < big / 8, "direct memory kept after reading " + big + " bytes: " + read + " (read), " + rows + " (loadRows)");
        }
    }

    private interface IoBody {
        void run() throws IOException;
    }

    /** The growth of the JVM's direct buffer memory while {@code body} runs in a new thread (whose buffer cache starts empty). */
    private static long directGrowth(IoBody body) throws InterruptedException {
        BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)
                .stream().filter(p -> p.getName().equals("direct")).findFirst().orElseThrow();
        long[] grew = new long[1];
        Throwable[] failed = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                long before = direct.getMemoryUsed();
                body.run();
                grew[0] = direct.getMemoryUsed() - before;   // measured before the thread ends and its cache is freed
            } catch (Throwable e) {
                failed[0] = e;
            }
        });
        t.start();
        t.join();
        if (failed[0] != null) throw new AssertionError(failed[0]);
        return grew[0];
    }

    /** A tensor of more bytes than an array holds (2^31 - 8) is refused naming the limit, before anything is allocated (a sparse file). */
    @Test
    void readRefusesATensorBeyondTheLargestArray() throws IOException {
        long over = Integer.MAX_VALUE - 7;
        Path f = dir.resolve("limit.safetensors");
        long dataStart = writeRaw(f, "{" + entry("over", "U8", "[" + over + "]", 0, over) + "}", 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(dataStart + over);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertMessage(assertThrows(SafetensorsException.class, () -> r.read("over")),
                    "tensor 'over' is 2147483640 bytes; a single tensor must be below 2 GiB to load (loadRows reads part of one)");
        }
    }

    /** Rows that add up to 2 GiB or more are refused before anything is allocated. */
    @Test
    void loadRowsRefusesMoreThanAnArrayHolds() throws IOException {
        long row = 1L << 30;
        Path f = dir.resolve("rows3g.safetensors");
        long dataStart = writeRaw(f, "{" + entry("x", "U8", "[3," + row + "]", 0, 3 * row) + "}", 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(dataStart + 3 * row);
        }
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertMessage(assertThrows(SafetensorsException.class, () -> r.loadRows("x", new long[] {0, 2}, CPU, DType.U8)),
                    "2 rows of tensor 'x' make 2147483648 bytes; at most 2 GiB load at once");
        }
    }


    @Test
    void loadsTensorsBeyondTwoGibibytesOfData() throws IOException {
        long big = (1L << 31) - 8;                    // just below the per-tensor limit
        String json = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]},"
                + "\"far\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[" + (big + 8) + "," + (big + 12) + "]}}";
        Path f = dir.resolve("sparse.safetensors");
        long dataStart = writeRaw(f, json, 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {  // sparse: no real 2 GiB written
            raf.setLength(dataStart + big + 12);
            raf.seek(dataStart + big);
            ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.25f).putFloat(-2f).putInt(-99);
            raf.write(b.array());
        }
        try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
            assertArrayEquals(new double[] {1.25, -2}, r.load("tail", CPU).toDoubleArray());
            assertEquals(-99, r.load("far", CPU).item());
            assertEquals(big, r.entry("big").byteSize());
        }
    }

    // ---- corruption battery ---------------------------------------------------------------------------

    /** Writes 8-byte length + header + {@code dataBytes} zero bytes; returns where the data section starts. */
    private static long writeRaw(Path f, String json, int dataBytes) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(f, b.array());
        return 8 + h.length;
    }

    private SafetensorsException corrupt(String json, int dataBytes) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        writeRaw(f, json, dataBytes);
        return openFails(f);
    }

    private static SafetensorsException openFails(Path f) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsReader.open(f).close());
        assertTrue(e.getMessage().startsWith(f + ": "), "message names the file: " + e.getMessage());
        return e;
    }

    private static void assertMessage(SafetensorsException e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void truncatedFiles() throws IOException {
        Path good = dir.resolve("good.safetensors");
        try (Tensor x = Tensor.of(CPU, DType.F32, new int[] {4}, 1, 2, 3, 4)) {
            SafetensorsWriter.write(good, Map.of(), Map.of("w", x));
        }
        byte[] raw = Files.readAllBytes(good);
        Path f = dir.resolve("cut.safetensors");
        Files.write(f, Arrays.copyOf(raw, raw.length - 3));
        assertMessage(openFails(f), "tensor 'w'", "outside the data section of 13 bytes");
        Files.write(f, Arrays.copyOf(raw, 20));
        assertMessage(openFails(f), "header length", "exceeds the file size of 20 bytes");
        Files.write(f, Arrays.copyOf(raw, 5));
        assertMessage(openFails(f), "file is 5 bytes, too short");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        Path f = dir.resolve("len.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertMessage(openFails(f), "header length 1099511627776 exceeds the file size of 16 bytes");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).array());
        assertMessage(openFails(f), "header length 18446744073709551615 exceeds");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(9).put("{}      ".getBytes(StandardCharsets.US_ASCII)).array());
        assertMessage(openFails(f), "header length 9 exceeds the file size of 16 bytes");   // one byte past the end
        Files.write(f, new byte[8]);
        assertMessage(openFails(f), "header must be a JSON object, found");                 // a zero-length header: 8 bytes are enough to say so
    }

    /** The reference's 100 MiB cap on the header, checked before reading it (a sparse file: nothing is really written). */
    @Test
    void headerLongerThanTheLimit() throws IOException {
        Path f = dir.resolve("longheader.safetensors");
        long n = SafetensorsHeader.MAX_HEADER_BYTES + 1;
        Files.write(f, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + n);
        }
        assertMessage(openFails(f), "header length 104857601 exceeds the 104857600-byte limit");
    }

    @Test
    void garbageJson() throws IOException {
        assertMessage(corrupt("{\"a\": [1, 2", 0), "header is not valid JSON");
        assertMessage(corrupt("\u0000\u0001garbage", 0), "header is not valid JSON");
        assertMessage(corrupt("[1, 2, 3]", 0), "header must be a JSON object, found ARRAY");
        assertMessage(corrupt("{} {}", 0), "header is not valid JSON");
        assertMessage(corrupt("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}", 2),
                "not valid JSON", "Duplicate field 'a'");
    }

    @Test
    void unknownDtype() throws IOException {
        assertMessage(corrupt("{" + entry("w8", "F8_E4M3", "[2]", 0, 2) + "}", 2),
                "tensor 'w8'", "unsupported dtype 'F8_E4M3'", "supported: F64, F32, BF16, F16, I64, I32, U8, BOOL");
    }

    @Test
    void overlappingRanges() throws IOException {
        assertMessage(corrupt("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
                "tensor 'b'", "data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    }

    @Test
    void byteCountMismatch() throws IOException {
        assertMessage(corrupt("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8),
                "tensor 'w'", "span 8 bytes but F32 [3] needs 12");
        assertMessage(corrupt("{" + entry("w", "F32", "[3]", 12, 0) + "}", 12), "tensor 'w'", "end before they begin");
        assertMessage(corrupt("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("w", "F32", "[3]", 4, 12) + "}", 12),
                "tensor 'w'", "data_offsets [4, 12] span 8 bytes but F32 [3] needs 12");
    }

    @Test
    void shapeProductOverflow() throws IOException {
        assertMessage(corrupt("{" + entry("huge", "F64", "[2147483647,2147483647,2147483647]", 0, 8) + "}", 8),
                "tensor 'huge'", "overflows 64 bits");
        assertMessage(corrupt("{" + entry("wide", "U8", "[4294967296]", 0, 8) + "}", 8), "tensor 'wide'", "dimension above 2^31-1");
        assertMessage(corrupt("{" + entry("neg", "U8", "[-1]", 0, 0) + "}", 0), "tensor 'neg'", "not a non-negative 64-bit integer");
        assertMessage(corrupt("{" + entry("frac", "U8", "[1.5]", 0, 0) + "}", 0), "tensor 'frac'", "not a non-negative");
        assertMessage(corrupt("{\"big\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 1),
                "tensor 'big'", "not a non-negative 64-bit integer");
    }

    @Test
    void offsetsOutsideTheDataSection() throws IOException {
        assertMessage(corrupt("{" + entry("w", "U8", "[4]", 100, 104) + "}", 4),
                "tensor 'w'", "data_offsets [100, 104] lie outside the data section of 4 bytes");
        assertMessage(corrupt("{" + entry("w", "U8", "[4]", 0, 4) + "}", 9), "data section is 9 bytes but the tensors cover only 4");
        assertMessage(corrupt("{" + entry("a", "U8", "[2]", 0, 2) + "," + entry("b", "U8", "[2]", 4, 6) + "}", 6),
                "tensor 'b'", "gap of 2 bytes");
    }

    @Test
    void malformedEntriesAndMetadata() throws IOException {
        assertMessage(corrupt("{\"w\": 3}", 0), "tensor 'w'", "entry must be an object");
        assertMessage(corrupt("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}}", 1), "unexpected field 'extra'");
        assertMessage(corrupt("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "shape must be an array");
        assertMessage(corrupt("{" + entry("w", "U8", "3", 0, 3) + "}", 3), "tensor 'w'", "shape must be an array of integers");
        assertMessage(corrupt("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "dtype must be a string");
        assertMessage(corrupt("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "dtype must be a string");
        assertMessage(corrupt("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1), "data_offsets must have 2 entries");
        assertMessage(corrupt("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__ value of 'k' must be a string");
        assertMessage(corrupt("{\"__metadata__\":[]}", 0), "__metadata__ must be an object of strings");
    }

    // ---- writer failures ------------------------------------------------------------------------------

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writerFailureMidwayLeavesNoFileAndNoTemp() throws IOException {
        Path f = dir.resolve("model.safetensors");
        ByteBuffer ok = ByteBuffer.allocate(16);
        List<SafetensorsWriter.Item> items = List.of(
                new SafetensorsWriter.Item("a", DType.F32, new int[] {4}, out -> out.put(ok)),
                new SafetensorsWriter.Item("b", DType.F32, new int[] {4}, out -> { throw new IOException("source tensor unreadable"); }));
        IOException e = assertThrows(IOException.class, () -> SafetensorsWriter.write(f, Map.of(), items));
        assertEquals("writing " + f + ": source tensor unreadable", e.getMessage());
        assertEquals(List.of(), listing());

        List<SafetensorsWriter.Item> shortData = List.of(new SafetensorsWriter.Item("c", DType.F16, new int[] {3}, out -> out.put(ByteBuffer.allocate(4))));
        SafetensorsException se = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(f, Map.of(), shortData));
        assertMessage(se, "tensor 'c'", "data supplied 4 bytes, F16 [3] needs 6");
        assertEquals(List.of(), listing());

        List<SafetensorsWriter.Item> longData = List.of(new SafetensorsWriter.Item("d", DType.F16, new int[] {3}, out -> {
            out.put(ByteBuffer.allocate(4));
            out.put(ByteBuffer.allocate(4));   // refused as it comes, before it reaches the file
        }));
        se = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(f, Map.of(), longData));
        assertMessage(se, "tensor 'd'", "data supplied 8 or more bytes, F16 [3] needs 6");
        assertEquals(List.of(), listing());
    }

    @Test
    void writerRejectsBadItemsBeforeWriting() throws IOException {
        Path f = dir.resolve("x.safetensors");
        ByteBuffer none = ByteBuffer.allocate(0);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(f, Map.of(), List.of(
                new SafetensorsWriter.Item("a", DType.U8, new int[] {0}, out -> out.put(none)),
                new SafetensorsWriter.Item("a", DType.U8, new int[] {0}, out -> out.put(none)))));
        assertMessage(e, "tensor 'a' given twice");
        e = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(f, Map.of(), List.of(
                new SafetensorsWriter.Item("__metadata__", DType.U8, new int[] {0}, out -> out.put(none)))));
        assertMessage(e, "invalid tensor name '__metadata__'");
        e = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(f, Map.of(), List.of(
                new SafetensorsWriter.Item("neg", DType.U8, new int[] {-2}, out -> out.put(none)))));
        assertMessage(e, "tensor 'neg': invalid shape [-2]");
        assertEquals(List.of(), listing());
    }
}
