package dev.puppetengine.backend;

import dev.puppetengine.backend.cuda.CudaBackend;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every op on {@link Backend} keeps what DESIGN.md asks beside it: a case in the op harness ({@link OpHarnessTest}, CUDA
 * against the CPU reference), and, where CUDA runs its own kernels for it, a benchmark (JMH under src/jmh, or
 * {@code bench kernels}' cases); an op that CUDA takes from Backend's default (concat: copyInto per input) is timed as
 * those. A new op without them fails here, naming what it lacks, instead of waiting for a review. Reads source text: a
 * call {@code .op(} is a use. Memory accounting, graphs and synchronisation are not ops.
 */
class OpCoverageTest {
    private static final Set<String> NOT_OPS = Set.of("name", "allocate", "empty", "bytesInUse", "peakBytes", "resetPeak",
            "graphUnavailable", "captureGraph", "synchronize", "timeMillis", "close");

    /** Backend's ops: its public instance methods, less the bookkeeping ones. */
    static Set<String> ops() {
        return Arrays.stream(Backend.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .map(Method::getName).filter(n -> !NOT_OPS.contains(n)).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The ops CUDA implements itself: abstract on Backend, or a default that CudaBackend overrides. */
    static Set<String> cudaKernelOps() {
        Set<String> own = Arrays.stream(CudaBackend.class.getDeclaredMethods()).map(Method::getName).collect(Collectors.toSet());
        return Arrays.stream(Backend.class.getDeclaredMethods())
                .filter(m -> ops().contains(m.getName()) && (Modifier.isAbstract(m.getModifiers()) || own.contains(m.getName())))
                .map(Method::getName).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The ops that {@code source} never calls. */
    static List<String> notCalled(Set<String> ops, String source) {
        return ops.stream().filter(op -> !source.contains("." + op + "(")).collect(Collectors.toList());
    }

    @Test
    void everyOpHasAHarnessCaseAndABenchmark() throws IOException {
        Path harness = Path.of("tests/dev/puppetengine/backend/OpHarnessTest.java");
        assumeTrue(Files.isRegularFile(harness), "run from the project root");
        List<String> lacking = new ArrayList<>();
        for (String op : notCalled(ops(), Files.readString(harness))) lacking.add(op + ": no case in " + harness);
        StringBuilder benchmarks = new StringBuilder(Files.readString(Path.of("src/main/java/dev/puppetengine/bench/KernelCases.java")));
        try (Stream<Path> jmh = Files.walk(Path.of("src/jmh/java"))) {
            for (Path p : (Iterable<Path>) jmh.filter(p -> p.toString().endsWith(".java")).sorted()::iterator) benchmarks.append(Files.readString(p));
        }
        for (String op : notCalled(cudaKernelOps(), benchmarks.toString())) lacking.add(op + ": no benchmark (src/jmh or bench/KernelCases.java)");
        assertTrue(lacking.isEmpty(), String.join("\n", lacking));
    }

    /** The check itself: it sees the ops (overloads once), and a source lacking a call is caught. */
    @Test
    void theCheckFailsOnAnOpNobodyCalls() {
        Set<String> ops = ops();
        assertTrue(ops.containsAll(List.of("conv2d", "attentionBackward", "adamStep", "concat")), ops.toString());
        assertTrue(ops.stream().noneMatch(NOT_OPS::contains), ops.toString());
        Set<String> kernels = cudaKernelOps();
        assertTrue(kernels.containsAll(List.of("conv2d", "affineFrom", "copyInto")) && !kernels.contains("concat"), kernels.toString());
        assertEquals(List.of("geglu"), notCalled(Set.of("geglu", "gegluBackward"), "b.gegluBackward(p, gy)"));
        assertEquals(List.of(), notCalled(Set.of("geglu"), "gpu.geglu(p)"));
    }
}
