package dev.puppetengine.io.pickle;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A loaded torch checkpoint or pickle, safely: the three layouts torch/pickle produce are detected by content.
 * <ul>
 * <li>zip torch.save ({@code .pt/.bin}, {@code ema.pt}): storages are read lazily from the archive, which stays
 * open until {@link #close()};</li>
 * <li>legacy (non-zip) torch.save;</li>
 * <li>a plain pickle, whose tensors may be legacy torch.save streams embedded as bytes (DragAMove batches).</li>
 * </ul>
 * {@link #root()} is the unpickled object in the plain Java model described in {@link Unpickler}, with tensors
 * as {@link TorchTensor}. Only allow-listed torch/numpy reconstructors are emulated; nothing is executed.
 */
public final class TorchFile implements AutoCloseable {
    private final Object root;
    private final Closeable resource;

    TorchFile(Object root, Closeable resource) {
        this.root = root;
        this.resource = resource;
    }

    public static TorchFile open(Path file) throws IOException {
        ByteBuffer head = head(file);
        if (ZipTorchFormat.matches(head)) return ZipTorchFormat.open(file);
        // torch.save's legacy stream and any pickle of protocol 2 or later open with PROTO: anything else is another kind of file
        if (!head.hasRemaining() || (head.get(0) & 0xff) != 0x80)
            throw new PickleException(file.toString(), "not a torch checkpoint or pickle (neither a zip archive nor a pickle stream" + looksLike(head) + ")");
        return new TorchFile(load(map(file), file.toString()), null);
    }

    /** What a file that is no checkpoint seems to be, from its first bytes (for the error message). */
    private static String looksLike(ByteBuffer head) {
        byte[] b = new byte[Math.min(4, head.remaining())];
        head.get(0, b);
        String start = new String(b, StandardCharsets.ISO_8859_1);
        if (start.startsWith("\u0089PNG")) return "; it is a PNG image";
        if (start.startsWith("\u00ff\u00d8")) return "; it is a JPEG image";
        if (start.startsWith("GIF8")) return "; it is a GIF image";
        if (start.startsWith("{") || start.startsWith("[")) return "; it looks like JSON";
        return "";
    }

    /** A legacy torch.save stream or a plain pickle held in memory. */
    static Object load(ByteBuffer all, String source) throws IOException {
        if (LegacyTorchFormat.matches(all)) return LegacyTorchFormat.load(all, source);
        Object root = new Unpickler(all, source, new TorchGlobals(source, true), null).load();
        if (all.hasRemaining()) throw new PickleException(source, all.remaining() + " unexpected bytes after the pickle's STOP");
        return root;
    }

    /** The first 16 bytes of a file, or all of a shorter one (what tells the formats apart). */
    private static ByteBuffer head(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return ByteBuffer.wrap(in.readNBytes(16));
        }
    }

    /**
     * A whole non-zip file, mapped (below 2 GiB): its tensors are views into it, so a read would hold the file in the heap
     * as long as they live; one mapping per file, freed by the GC after them.
     */
    private static ByteBuffer map(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long n = ch.size();
            if (n > Integer.MAX_VALUE) throw new PickleException(file.toString(), "a non-zip pickle of " + n + " bytes is over the 2 GiB limit");
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, n);
        }
    }

    public Object root() { return root; }

    @Override
    public void close() throws IOException {
        if (resource != null) resource.close();
    }
}
