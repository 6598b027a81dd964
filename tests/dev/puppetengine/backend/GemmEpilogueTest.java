package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU reference of the GEMM epilogues (kernels/epilogue.cuh): a residual added, or the GEGLU gate applied,
 * before the product's one rounding. In F64 they equal the unfused ops; in BF16 the single rounding is visible.
 */
class GemmEpilogueTest {
    private static final CpuBackend CPU = CpuBackend.get();
    private final Random rnd = new Random(11);
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    private Tensor rand(DType t, int... shape) {
        double[] v = new double[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextGaussian();
        return Tensor.of(CPU, t, shape, v);
    }

    private static void assertClose(Tensor want, Tensor got) {
        assertArrayEquals(want.shape(), got.shape());
        double[] a = want.toDoubleArray(), b = got.toDoubleArray();
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-12 * (1 + Math.abs(a[i])), "element " + i);
    }

    @Test
    void residualEqualsTheSeparateAddInF64() {
        Tensor x = rand(DType.F64, 2, 3, 5), w = rand(DType.F64, 7, 5), b = rand(DType.F64, 7), r = rand(DType.F64, 2, 3, 7);
        assertClose(CPU.binary(BinaryOp.ADD, CPU.linear(x, w, b), r), CPU.linear(x, w, b, r));
        Tensor xi = rand(DType.F64, 2, 5, 6, 3), wc = rand(DType.F64, 4, 3, 3, 3), bc = rand(DType.F64, 4), rc = rand(DType.F64, 2, 5, 6, 4);
        ConvSpec s = ConvSpec.of(1, 1);
        assertClose(CPU.binary(BinaryOp.ADD, CPU.conv2d(xi, wc, bc, s), rc), CPU.conv2d(xi, wc, bc, rc, s));
    }

    @Test
    void linearGegluEqualsGegluOfTheProjectionInF64() {
        Tensor x = rand(DType.F64, 2, 3, 5), w = rand(DType.F64, 14, 5), b = rand(DType.F64, 14);
        assertClose(CPU.geglu(CPU.linear(x, w, b)), CPU.linearGeglu(x, w, b));
        assertArrayEquals(new int[]{2, 3, 7}, CPU.linearGeglu(x, w, null).shape());
    }

    /**
     * p = 1 + 2^-8 + 2^-10 rounds to 1 + 2^-7 in BF16; with the residual -1 the fused result keeps p - 1 = 2^-8 + 2^-10
     * (exact in BF16), where rounding the product first would give 2^-7.
     */
    @Test
    void residualIsAddedBeforeTheOneRounding() {
        Tensor x = Tensor.of(CPU, DType.BF16, new int[]{1, 3}, new double[]{1, 1, 1});
        Tensor w = Tensor.of(CPU, DType.BF16, new int[]{1, 3}, new double[]{1, Math.scalb(1.0, -8), Math.scalb(1.0, -10)});
        Tensor r = Tensor.of(CPU, DType.BF16, new int[]{1, 1}, new double[]{-1});
        assertEquals(Math.scalb(1.0, -8) + Math.scalb(1.0, -10), CPU.linear(x, w, null, r).toDoubleArray()[0]);
        assertEquals(Math.scalb(1.0, -7), CPU.binary(BinaryOp.ADD, CPU.linear(x, w, null), r).toDoubleArray()[0]);
    }

    @Test
    void badShapesAreNamed() {
        Tensor x = rand(DType.F32, 3, 5), w = rand(DType.F32, 7, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CPU.linear(x, w, null, rand(DType.F32, 3, 6)));
        assertTrue(e.getMessage().contains("residual [3, 6]") && e.getMessage().contains("[3, 7]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CPU.linearGeglu(x, w, null));
        assertTrue(e.getMessage().contains("even number of outputs"), e.getMessage());
    }
}
