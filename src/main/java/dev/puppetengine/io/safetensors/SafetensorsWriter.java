package dev.puppetengine.io.safetensors;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes safetensors files atomically, streaming: the header (which needs every name, dtype and shape up
 * front) goes first, then each tensor's bytes are requested from its {@link Data} in turn, in as many pieces as it
 * likes, so neither a multi-GB model nor a tensor beyond 2 GiB is ever held in the heap at once. Tensors are packed without gaps in the order given; the header is padded
 * with spaces to a multiple of 8 bytes so the data section starts aligned.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** Produces one tensor's little-endian bytes, in order, when the writer reaches it. */
    @FunctionalInterface
    public interface Data {
        void write(Sink out) throws IOException;
    }

    /** Takes the next piece of a tensor's bytes. */
    @FunctionalInterface
    public interface Sink {
        void put(ByteBuffer bytes) throws IOException;
    }

    /** One tensor to write. */
    public record Item(String name, DType dtype, int[] shape, Data data) {
        public Item {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        /** A tensor written in its own dtype (its bytes are read when the writer reaches it). */
        public static Item of(String name, Tensor t) {
            return new Item(name, t.dtype(), t.shape(), out -> out.put(t.toBytes()));
        }
    }

    /** Writes {@code tensors} (in map iteration order) and {@code metadata}. */
    public static void write(Path file, Map<String, String> metadata, Map<String, Tensor> tensors) throws IOException {
        List<Item> items = new ArrayList<>();
        tensors.forEach((name, t) -> items.add(Item.of(name, t)));
        write(file, metadata, items);
    }

    public static void write(Path file, Map<String, String> metadata, List<Item> items) throws IOException {
        long[] sizes = sizes(file, items);
        byte[] header = header(metadata, items, sizes);
        AtomicFile.write(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            AtomicFile.writeFully(ch, len);
            AtomicFile.writeFully(ch, ByteBuffer.wrap(header));
            for (int i = 0; i < items.size(); i++) writeData(file, ch, items.get(i), sizes[i]);
        });
    }

    private static long[] sizes(Path file, List<Item> items) throws SafetensorsException {
        long[] sizes = new long[items.size()];
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < sizes.length; i++) {
            Item it = items.get(i);
            if (it.name().isEmpty() || it.name().equals(SafetensorsHeader.METADATA_KEY))
                throw new SafetensorsException(file, "invalid tensor name '" + it.name() + "'");
            if (!seen.add(it.name())) throw new SafetensorsException(file, "tensor '" + it.name() + "' given twice");
            try {
                sizes[i] = Math.multiplyExact(Shape.numel(it.shape), (long) it.dtype().bytes());
            } catch (ArithmeticException | IllegalArgumentException e) {
                throw new SafetensorsException(file, "tensor '" + it.name() + "': invalid shape " + Shape.str(it.shape));
            }
        }
        return sizes;
    }

    /** The JSON header, space-padded so that 8 + its length is a multiple of 8. */
    private static byte[] header(Map<String, String> metadata, List<Item> items, long[] sizes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = SafetensorsHeader.JSON.getFactory().createGenerator(out)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) g.writeStringField(m.getKey(), m.getValue());
                g.writeEndObject();
            }
            long offset = 0;
            for (int i = 0; i < items.size(); i++) {
                Item it = items.get(i);
                g.writeObjectFieldStart(it.name());
                g.writeStringField("dtype", it.dtype().safetensorsName());
                g.writeFieldName("shape");
                g.writeArray(it.shape, 0, it.shape.length);
                g.writeFieldName("data_offsets");
                g.writeArray(new long[] {offset, offset + sizes[i]}, 0, 2);
                g.writeEndObject();
                offset += sizes[i];
            }
            g.writeEndObject();
        }
        int pad = (8 - out.size() % 8) % 8;
        for (int i = 0; i < pad; i++) out.write(' ');
        return out.toByteArray();
    }

    private static void writeData(Path file, FileChannel ch, Item it, long size) throws IOException {
        long[] written = {0};
        it.data().write(b -> {
            if (written[0] + b.remaining() > size) throw wrongSize(file, it, written[0] + b.remaining() + " or more", size);
            written[0] += b.remaining();
            AtomicFile.writeFully(ch, b.duplicate());
        });
        if (written[0] != size) throw wrongSize(file, it, String.valueOf(written[0]), size);
    }

    private static SafetensorsException wrongSize(Path file, Item it, String supplied, long size) {
        return new SafetensorsException(file, "tensor '" + it.name() + "': data supplied " + supplied + " bytes, "
                + it.dtype() + " " + Arrays.toString(it.shape) + " needs " + size);
    }
}
