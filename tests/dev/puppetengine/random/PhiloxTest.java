package dev.puppetengine.random;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PhiloxTest {

    /** Known-answer vectors published with Random123 (kat_vectors: counter[4], key[2] -> output[4]). */
    @Test
    void random123KnownAnswers() {
        assertArrayEquals(new int[]{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                Philox.philox4x32(new int[]{0, 0, 0, 0}, new int[]{0, 0}));
        assertArrayEquals(new int[]{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                Philox.philox4x32(new int[]{-1, -1, -1, -1}, new int[]{-1, -1}));
        assertArrayEquals(new int[]{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                Philox.philox4x32(new int[]{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, new int[]{0xa4093822, 0x299f31d0}));
    }

    @Test
    void ownTranscendentalsMatchTheLibraryToDoublePrecision() {
        for (int i = 1; i <= 100_000; i++) {
            double u = i / 100_000.0 * Math.pow(2, -(i % 40));
            assertEquals(Math.log(u), Philox.log(u), 4e-16 * Math.max(1, Math.abs(Math.log(u))), "log " + u);
            double a = (i - 1) / 100_000.0;
            double[] sc = Philox.sinCos2Pi(a);
            assertEquals(Math.sin(2 * Math.PI * a), sc[0], 2e-15, "sin " + a);
            assertEquals(Math.cos(2 * Math.PI * a), sc[1], 2e-15, "cos " + a);
        }
    }

    @Test
    void streamsHaveTheRightMomentsAndRange() {
        int n = 200_000;
        float[] u = new float[n], z = new float[n];
        Philox.fill(u, n, false, 42, 0, 0);
        Philox.fill(z, n, true, 42, 0, 0);
        double su = 0, sz = 0, szz = 0;
        for (int i = 0; i < n; i++) {
            assertTrue(u[i] >= 0 && u[i] < 1);
            assertTrue(Float.isFinite(z[i]));
            su += u[i];
            sz += z[i];
            szz += (double) z[i] * z[i];
        }
        assertEquals(0.5, su / n, 0.005);
        assertEquals(0.0, sz / n, 0.01);
        assertEquals(1.0, szz / n, 0.01);
    }

    @Test
    void elementsAreAddressableIndividuallyAndByOffset() {
        float[] all = new float[37], tail = new float[30];
        Philox.fill(all, 37, true, 7, 3, 0);
        Philox.fill(tail, 30, true, 7, 3, 7);               // starts mid-block
        for (int i = 0; i < 30; i++) assertEquals(all[i + 7], tail[i]);
        for (int i = 0; i < 37; i++) assertEquals(all[i], Philox.normal(7, 3, i));
        float[] shifted = new float[8];
        Philox.fill(shifted, 8, true, 7, 4, 0);              // offset counts blocks of 4 elements
        for (int i = 0; i < 8; i++) assertEquals(all[i + 4], shifted[i]);
    }

    @Test
    void backendFillEqualsTheStreamInEveryFloatDtype() {
        try (Scope s = Scope.open()) {
            Tensor a = CpuBackend.get().empty(DType.F32, 3, 5);
            Tensor b = CpuBackend.get().empty(DType.F64, 3, 5);
            CpuBackend.get().fillRandom(a, RandomKind.NORMAL, 99, 12);
            CpuBackend.get().fillRandom(b, RandomKind.NORMAL, 99, 12);
            double[] av = a.toDoubleArray(), bv = b.toDoubleArray();
            for (int i = 0; i < 15; i++) {
                assertEquals(Philox.normal(99, 12, i), av[i]);
                assertEquals(av[i], bv[i]);                    // the stream is float32 on every backend and dtype
            }
        }
    }
}
