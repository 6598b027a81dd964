package dev.puppetengine.io.safetensors;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors header: name, dtype, shape, and its byte range [begin, end) relative to the start
 * of the data section (already validated against the file).
 */
public record SafetensorsEntry(String name, DType dtype, int[] shape, long begin, long end) {
    public SafetensorsEntry {
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsEntry e && name.equals(e.name) && dtype == e.dtype && Arrays.equals(shape, e.shape)
                && begin == e.begin && end == e.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Shape.str(shape);
    }
}
