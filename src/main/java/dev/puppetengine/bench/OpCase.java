package dev.puppetengine.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * One benchmark case of {@link OpBench}: a stable id (the key the PyTorch results are merged by), a group for the
 * summary, the spec the PyTorch script rebuilds the same op from (kind, pass, dtype, shapes), the work it does
 * (FLOPs, and the bytes it must at least read and write), how many times a model run issues it, and how to run
 * it on a backend.
 *
 * @param setup allocates fresh random inputs in the current scope (running any forward a backward case needs)
 *              and returns the op to time; the op's outputs go to the scope open around each timed call
 */
public record OpCase(String id, String group, ObjectNode spec, long flops, long bytes, int count, Setup setup) {

    @FunctionalInterface
    public interface Setup {
        Runnable prepare(Backend backend);
    }

    private static long seed = 1;

    /** A tensor of standard normal values (fresh values per call: a new Philox seed each time). */
    static Tensor random(Backend b, DType dtype, int... shape) {
        Tensor t = b.empty(dtype, shape);
        b.fillRandom(t, RandomKind.NORMAL, seed++, 0);
        return t;
    }

    /** 2x3x4 for {2, 3, 4}: ids stay free of spaces and brackets. */
    static String dims(int[] shape) {
        return Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining("x"));
    }

    /** Bytes of {@code numel} elements of {@code dtype}. */
    static long bytes(DType dtype, long numel) {
        return numel * dtype.bytes();
    }
}
