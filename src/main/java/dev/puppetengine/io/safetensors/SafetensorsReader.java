package dev.puppetengine.io.safetensors;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.TensorBytes;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Lazy reader of a safetensors file (layout: ARCHITECTURE.md 6.4). Opening reads and validates only the
 * header; each tensor's bytes are read on demand into a heap buffer, so files far beyond 2 GiB work as long as each
 * tensor is below 2 GiB; {@link #loadRows} reads parts of tensors of any size. Reads, not memory maps: a mapping lives
 * until the GC frees it (hundreds per model load), holding the file's pages, and a deleted checkpoint's disk space, meanwhile.
 *
 * <pre>
 * try (SafetensorsReader r = SafetensorsReader.open(path)) {
 *     for (SafetensorsEntry e : r.entries()) ...;
 *     Tensor w = r.load("conv_in.weight", backend, DType.BF16);
 * }
 * </pre>
 */
public final class SafetensorsReader implements AutoCloseable {
    /** The largest array a JVM allocates, the bound of one read. */
    private static final int MAX_READ = Integer.MAX_VALUE - 8;
    /** The most bytes one positional read asks for (see readInto). */
    private static final int READ_CHUNK = 1 << 22;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, SafetensorsEntry> byName = new LinkedHashMap<>();
    private final Map<String, String> metadata;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        for (SafetensorsEntry e : header.entries) byName.put(e.name(), e);
        this.metadata = header.metadata;
    }

    public static SafetensorsReader open(Path file) throws IOException {
        return open(file, b -> {});
    }

    /**
     * As {@link #open(Path)}, handing {@code header} each run of bytes it reads (the 8-byte length, then the JSON) before
     * checking it. The tensors, in {@link #entries} order, hold the rest of the file: a caller that hashes the file while
     * reading them reads it once, and one whose header is refused knows how far it got.
     */
    public static SafetensorsReader open(Path file, Consumer<ByteBuffer> header) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw new SafetensorsException(file, "file is " + size + " bytes, too short for the 8-byte header length");
            ByteBuffer length = readFully(file, ch, 0, 8);
            header.accept(length.duplicate());
            long n = length.getLong();
            if (n < 0 || n > size - 8)
                throw new SafetensorsException(file, "header length " + Long.toUnsignedString(n) + " exceeds the file size of " + size + " bytes");
            if (n > SafetensorsHeader.MAX_HEADER_BYTES)
                throw new SafetensorsException(file, "header length " + n + " exceeds the " + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit");
            ByteBuffer json = readFully(file, ch, 8, (int) n);
            header.accept(json.duplicate());
            return new SafetensorsReader(file, ch, 8 + n, SafetensorsHeader.parse(file, json.array(), size - 8 - n));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path file() { return file; }

    /** All tensors in data order (no data is read). */
    public List<SafetensorsEntry> entries() {
        return List.copyOf(byName.values());
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public SafetensorsEntry entry(String name) throws SafetensorsException {
        SafetensorsEntry e = byName.get(name);
        if (e == null) throw new SafetensorsException(file, "no tensor '" + name + "' among its " + byName.size() + " tensors");
        return e;
    }

    /** The {@code __metadata__} strings (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** One tensor's bytes, read into a new little-endian heap buffer. Thread-safe (positional reads). */
    public ByteBuffer read(String name) throws IOException {
        SafetensorsEntry e = entry(name);
        if (e.byteSize() > MAX_READ)
            throw new SafetensorsException(file, "tensor '" + name + "' is " + e.byteSize() + " bytes; a single tensor must be below 2 GiB to load (loadRows reads part of one)");
        ByteBuffer b = ByteBuffer.allocate((int) e.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        readInto(file, channel, dataStart + e.begin(), b);
        return b.flip();
    }

    /** Loads a tensor in its stored dtype into a new contiguous tensor (owned by the current scope, if any). */
    public Tensor load(String name, Backend backend) throws IOException {
        return load(name, backend, entry(name).dtype());
    }

    /** Loads a tensor converted to {@code dtype} (floating types only; exact, round to nearest even). */
    public Tensor load(String name, Backend backend, DType dtype) throws IOException {
        return load(name, read(name), backend, dtype);
    }

    /** As {@link #load(String, Backend, DType)}, from {@code bytes}, what {@link #read} gave for {@code name}: a caller that checks the stored values first reads once. */
    public Tensor load(String name, ByteBuffer bytes, Backend backend, DType dtype) throws IOException {
        SafetensorsEntry e = entry(name);
        if (!TensorBytes.canConvert(e.dtype(), dtype))
            throw new SafetensorsException(file, "tensor '" + name + "' is " + e.dtype() + " and cannot be loaded as " + dtype);
        return TensorBytes.upload(backend, bytes, e.dtype(), e.shape(), dtype);
    }

    /**
     * Loads some rows (indices into the first dimension) of a tensor as a new tensor of shape (rows, rest...),
     * converted to {@code dtype}, reading only their bytes (consecutive rows in one read): how a set far beyond
     * memory, or a tensor beyond 2 GiB, is read a batch at a time. Thread-safe (positional reads).
     */
    public Tensor loadRows(String name, long[] rows, Backend backend, DType dtype) throws IOException {
        SafetensorsEntry e = entry(name);
        int[] shape = e.shape();
        if (shape.length == 0) throw new SafetensorsException(file, "tensor '" + name + "' is a scalar; it has no rows to load");
        if (!TensorBytes.canConvert(e.dtype(), dtype))
            throw new SafetensorsException(file, "tensor '" + name + "' is " + e.dtype() + " and cannot be loaded as " + dtype);
        long rowBytes = shape[0] == 0 ? 0 : e.byteSize() / shape[0];
        if (rowBytes > 0 && rows.length > MAX_READ / rowBytes)
            throw new SafetensorsException(file, rows.length + " rows of tensor '" + name + "' make " + rowBytes * rows.length + " bytes; at most 2 GiB load at once");
        ByteBuffer b = ByteBuffer.allocate((int) (rowBytes * rows.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows.length; ) {
            long first = rows[i];
            int run = 1;
            while (i + run < rows.length && rows[i + run] == first + run) run++;
            if (first < 0 || first > shape[0] - run)
                throw new SafetensorsException(file, "tensor '" + name + "' has " + shape[0] + " rows; row " + (first < 0 ? first : Math.max(first, shape[0])) + " asked for");
            b.limit((int) ((i + run) * rowBytes)).position((int) (i * rowBytes));
            readInto(file, channel, dataStart + e.begin() + first * rowBytes, b);
            i += run;
        }
        shape[0] = rows.length;
        return TensorBytes.upload(backend, b.clear(), e.dtype(), shape, dtype);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static ByteBuffer readFully(Path file, FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        readInto(file, ch, pos, b);
        return b.flip();
    }

    /**
     * Fills b's remaining bytes from {@code file} at {@code pos}; open checked the sizes, so an end here is a file cut since.
     * At most {@link #READ_CHUNK} bytes a call: the JDK reads into a heap buffer through a temporary direct buffer as large
     * as the read and keeps it for the thread, so one whole read of a tensor would hold that much native memory from then on.
     */
    private static void readInto(Path file, FileChannel ch, long pos, ByteBuffer b) throws IOException {
        long at = pos - b.position();
        int end = b.limit();
        try {
            while (b.position() < end) {
                b.limit((int) Math.min(end, (long) b.position() + READ_CHUNK));
                if (ch.read(b, at + b.position()) < 0) throw cutShort(file, at + b.position());
            }
        } finally {
            b.limit(end);
        }
    }

    private static InputFileException cutShort(Path file, long end) {
        return new InputFileException(file + ": ends at byte " + end + ", inside the data its header describes (cut short since it was opened?)");
    }
}
