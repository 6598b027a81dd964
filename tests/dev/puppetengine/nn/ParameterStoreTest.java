package dev.puppetengine.nn;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One owner per parameter: a new module joins an existing store (as fit-image-encoder's head does) instead of a second store rebinding weights. */
class ParameterStoreTest {
    static final CpuBackend CPU = CpuBackend.get();

    @Test
    void addedModuleIsInitialisedTrainedAndFreedByTheStoreThatOwnsIt() {
        Linear encoder = new Linear(3, 4, true), head = new Linear(4, 2, true);
        ParameterStore store = ParameterStore.initialize(encoder, CPU, DType.F32, 5);
        double[] before = encoder.namedParameters().get("weight").value().toDoubleArray();
        store.addInitialized("head.", head, 9);
        assertEquals(List.of("weight", "bias", "head.weight", "head.bias"), List.copyOf(store.parameters().keySet()));
        assertArrayEquals(before, encoder.namedParameters().get("weight").value().toDoubleArray(), "the owned weights are untouched");
        try (Scope s = Scope.open()) {   // initialised as initialize() would under the prefixed name
            assertArrayEquals(ParameterStore.initialValue(CPU, DType.F32, "head.weight", head.namedParameters().get("weight"), 9).toDoubleArray(),
                    store.parameters().get("head.weight").value().toDoubleArray());
        }
        // trains as one store: gradients reach both, zeroGrad clears both
        store.requireGrad(n -> true);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(CPU, DType.F32, new int[]{2, 3}, 1, 2, 3, 4, 5, 6);
            Autograd.backward(F.sum(head.forward(encoder.forward(x))));
        }
        assertNotNull(store.parameters().get("weight").value().grad());
        assertNotNull(store.parameters().get("head.bias").value().grad());
        store.zeroGrad();
        store.parameters().values().forEach(p -> assertEquals(null, p.value().grad()));
        Tensor headWeight = store.parameters().get("head.weight").value();
        store.close();   // frees every parameter it owns, the added ones too, without tripping over any
        assertTrue(headWeight.isClosed());
        assertFalse(head.namedParameters().get("weight").isMaterialized());
    }

    /** A store trained again with a narrower selection: the parameters left out get no gradient and hold none. */
    /**
     * Whoever owns a store may close it on any thread (a model loaded on one thread, closed on another), gradients and
     * all: closing them one by one from there was refused (a scope's tensors are closed on its thread) and leaked the weights.
     */
    @Test
    void aStoreWithGradientsClosesOnAnotherThread() throws Exception {
        long before = CPU.bytesInUse();
        Linear lin = new Linear(3, 2, true);
        ParameterStore store = ParameterStore.initialize(lin, CPU, DType.F32, 1);
        store.requireGrad(n -> true);
        try (Scope s = Scope.open()) {
            Autograd.backward(F.sum(lin.forward(Tensor.of(CPU, DType.F32, new int[]{1, 3}, 1, 2, 3))));
        }
        assertNotNull(lin.namedParameters().get("weight").value().grad());
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            other.submit(store::close).get();
        } finally {
            other.shutdown();
        }
        assertEquals(before, CPU.bytesInUse(), "weights and gradients freed");
    }

    @Test
    void aNarrowerSelectionStopsTheOthersCollectingGradients() {
        Linear a = new Linear(3, 2, true);
        try (ParameterStore store = ParameterStore.initialize(a, CPU, DType.F32, 3)) {
            store.requireGrad(n -> true);
            backward(a);
            store.requireGrad(n -> n.equals("bias"));
            Tensor weight = store.parameters().get("weight").value(), bias = store.parameters().get("bias").value();
            assertFalse(weight.requiresGrad());
            assertEquals(null, weight.grad(), "the gradient of the first selection is freed");
            backward(a);
            assertEquals(null, weight.grad(), "no gradient flows into a parameter left out");
            assertNotNull(bias.grad());
        }
    }

    private static void backward(Linear a) {
        try (Scope s = Scope.open()) {
            Autograd.backward(F.sum(a.forward(Tensor.of(CPU, DType.F32, new int[]{2, 3}, 1, 2, 3, 4, 5, 6))));
        }
    }

    @Test
    void refusesNamesItHasAndModulesAnotherStoreOwns() {
        Linear a = new Linear(2, 2, false), b = new Linear(2, 2, false);
        try (ParameterStore sa = ParameterStore.initialize(a, CPU, DType.F32, 1); ParameterStore sb = ParameterStore.initialize(b, CPU, DType.F32, 1)) {
            assertThrows(IllegalArgumentException.class, () -> sa.addInitialized("", new Linear(2, 2, false), 1));   // "weight" exists
            assertThrows(IllegalArgumentException.class, () -> sa.addInitialized("other.", b, 1));                    // b is sb's
            assertEquals(1, sa.parameters().size());
        }
    }

    /**
     * A store whose weights do not all fit (here a CPU tensor past 2^31 elements; on a GPU, out of memory part-way
     * through a model) frees the ones it had allocated: loading promises nothing stays allocated after a failure.
     */
    @Test
    void aStoreThatFailsPartWayFreesWhatItAllocated() {
        Module twoLayers = new Module() {
            {
                add("small", new Linear(3, 4, true));
                add("huge", new Linear(1 << 16, 1 << 16, false));
            }
        };
        long before = CPU.bytesInUse();
        assertThrows(IllegalArgumentException.class, () -> ParameterStore.allocate(twoLayers, CPU, DType.F32));
        assertEquals(before, CPU.bytesInUse(), "after a failed allocate");
        assertThrows(IllegalArgumentException.class, () -> ParameterStore.initialize(twoLayers, CPU, DType.F32, 1));
        assertEquals(before, CPU.bytesInUse(), "after a failed initialize");
    }

    /**
     * initialize draws each parameter as its Init says: U(-b, b) for fanIn (b = 1/sqrt(fan in)), N(0, std), constants
     * exactly; from a Philox stream keyed by the seed and the name, so names differ even at seed 1 (a seed AND-ed with the
     * hash would give most names one of two streams), and the same seed gives the same weights. Nothing is left over.
     */
    @Test
    void initialValuesFollowTheirInitAndTheName() {
        Supplier<Module> make = () -> new Module() {
            {
                param("a", Init.fanIn(4), 4000);
                param("foobar", Init.fanIn(4), 4000);
                param("n", Init.normal(0.02), 4000);
                param("c", Init.constant(0.7), 3);
            }
        };
        Module m = make.get();
        long before = CPU.bytesInUse();
        try (ParameterStore st = ParameterStore.initialize(m, CPU, DType.F64, 1)) {
            assertEquals(before + (3 * 4000 + 3) * 8, CPU.bytesInUse(), "the weights and nothing else");
            assertSame(CPU, st.backend());
            assertEquals(DType.F64, st.dtype());
            double[] a = value(st, "a"), f = value(st, "foobar"), n = value(st, "n");
            for (double[] u : List.of(a, f)) {
                double min = Arrays.stream(u).min().orElseThrow(), max = Arrays.stream(u).max().orElseThrow();
                assertTrue(min >= -0.5 && min < -0.49 && max <= 0.5 && max > 0.49, min + " .. " + max);
            }
            assertFalse(Arrays.equals(a, f), "another name, another stream");
            double sq = 0;
            for (double v : n) sq += v * v;
            assertEquals(0.02, Math.sqrt(sq / n.length), 0.001);
            assertTrue(Arrays.stream(n).anyMatch(v -> Math.abs(v) > 0.05), "normal, not uniform in +/- 0.02");
            assertArrayEquals(new double[]{0.7, 0.7, 0.7}, value(st, "c"));
            try (ParameterStore again = ParameterStore.initialize(make.get(), CPU, DType.F64, 1)) {
                assertArrayEquals(a, value(again, "a"));
            }
            try (ParameterStore other = ParameterStore.initialize(make.get(), CPU, DType.F64, 2)) {
                assertFalse(Arrays.equals(a, value(other, "a")), "another seed");
            }
        }
        assertEquals(before, CPU.bytesInUse());
    }

    private static double[] value(ParameterStore st, String name) {
        return st.parameters().get(name).value().toDoubleArray();
    }

    /** FNV-1a 64 of the name's UTF-8 bytes (published vectors; bytes unsigned: 'é' is C3 A9). */
    @Test
    void nameHashIsFnv1a() {
        assertEquals(0xcbf29ce484222325L, ParameterStore.nameHash(""));
        assertEquals(0xaf63dc4c8601ec8cL, ParameterStore.nameHash("a"));
        assertEquals(0x85944171f73967e8L, ParameterStore.nameHash("foobar"));
        assertEquals(0x0ac21707b7181e01L, ParameterStore.nameHash("\u00e9"));
    }

    /** allocate gives zeros; load takes an engine-layout tensor of the right name and shape, in any dtype. */
    @Test
    void allocateThenLoad() {
        Linear l = new Linear(2, 3, true);
        try (ParameterStore st = ParameterStore.allocate(l, CPU, DType.F32); Scope s = Scope.open()) {
            assertArrayEquals(new double[6], value(st, "weight"));
            assertArrayEquals(new double[3], value(st, "bias"));
            st.load("bias", Tensor.of(CPU, DType.F64, new int[]{3}, 0.5, -1, 2));
            assertArrayEquals(new double[]{0.5, -1, 2}, value(st, "bias"));
            assertThrows(IllegalArgumentException.class, () -> st.load("bias2", Tensor.zeros(CPU, DType.F32, 3)));
            String m = assertThrows(IllegalArgumentException.class, () -> st.load("weight", Tensor.zeros(CPU, DType.F32, 2, 3))).getMessage();
            assertTrue(m.startsWith("parameter weight: expected shape [3, 2]"), m);
            assertArrayEquals(new double[6], value(st, "weight"));
        }
    }

    /** zeroGrad frees the gradients there are (none is fine); a store closes once. */
    @Test
    void zeroGradFreesGradientsAndCloseIsIdempotent() {
        Linear a = new Linear(3, 2, true);
        ParameterStore st = ParameterStore.initialize(a, CPU, DType.F32, 1);
        st.zeroGrad();
        st.requireGrad(n -> true);
        long before = CPU.bytesInUse();
        backward(a);
        assertEquals(before + (6 + 2) * 4, CPU.bytesInUse(), "the two gradients");
        st.zeroGrad();
        assertEquals(before, CPU.bytesInUse());
        assertNull(a.weight.value().grad());
        st.close();
        st.close();
        assertFalse(a.weight.isMaterialized());
    }
}
