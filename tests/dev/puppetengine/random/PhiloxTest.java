package dev.puppetengine.random;

import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

    /** Both 32-bit halves of the counter and of the seed reach the generator: the engine's streams start at block 2^32 and beyond. */
    @Test
    void counterAndSeedUseAll64Bits() {
        long seed = 0x1234_5678_9abc_def0L, block = 0x0000_0003_0000_0005L;
        assertArrayEquals(Philox.philox4x32(new int[]{5, 3, 0, 0}, new int[]{0x9abcdef0, 0x12345678}), Philox.block(seed, block));
        assertFalse(Arrays.equals(Philox.block(1L << 32, 0), Philox.block(0, 0)), "the seed's high half is part of the key");
        assertNotEquals(Philox.normal(9, Streams.offset(0, Streams.NOISE), 0), Philox.normal(9, Streams.offset(0, Streams.SIGMA), 0));
    }

    /** Each (step, stream) pair owns the 2^32 blocks from (6 step + stream) 2^32: the layout a resumed run relies on (Streams.LAYOUT). */
    @Test
    void streamOffsetsAreDisjointRanges() {
        assertEquals(0, Streams.offset(0, Streams.SIGMA));
        assertEquals(1L << 32, Streams.offset(0, Streams.NOISE));
        assertEquals(5L << 32, Streams.offset(0, Streams.DRAGS));
        assertEquals(6L << 32, Streams.offset(1, Streams.SIGMA));
        assertEquals((6L * 1000 + Streams.DATA) << 32, Streams.offset(1000, Streams.DATA));
        assertThrows(IllegalArgumentException.class, () -> Streams.offset(0, -1));
        assertThrows(IllegalArgumentException.class, () -> Streams.offset(0, Streams.COUNT));
    }

    /** Uniforms are the top 24 bits of a word, exact in float, and the uniform stream is addressable by element. */
    @Test
    void uniformsAreTheTop24BitsOfTheirWord() {
        assertEquals(0f, Philox.uniform(0xff));
        assertEquals(0x1p-24f, Philox.uniform(0x100));
        assertEquals(1 - 0x1p-24f, Philox.uniform(-1));
        assertEquals(0.5f, Philox.uniform(0x8000_0000));
        float[] all = new float[11];
        Philox.fill(all, 11, false, 1L << 40, Streams.offset(2, Streams.DATA), 0);
        for (int i = 0; i < 11; i++) {
            assertEquals(Philox.uniform(Philox.block(1L << 40, Streams.offset(2, Streams.DATA) + i / 4)[i % 4]), all[i]);
            assertEquals(all[i], Philox.uniform(1L << 40, Streams.offset(2, Streams.DATA), i));
        }
    }

    /** Box-Muller at the ends of its ranges: u1 = (a + 1) / 2^32 is never 0 (a = 0 gives the largest radius) and is 1 for a = -1. */
    @Test
    void boxMullerAtTheEndsOfItsRanges() {
        float rMax = (float) Math.sqrt(64 * Math.log(2));
        assertEquals(rMax, Philox.boxMuller(0, 0, true), Math.ulp(rMax));      // cos 0
        assertEquals(0f, Philox.boxMuller(0, 0, false), 0f);                    // sin 0
        assertEquals(0f, Philox.boxMuller(-1, 12345, true), 0f);                // radius 0 (sqrt(-0.0): -0.0)
        float quarter = Philox.boxMuller(0, 0x4000_0000, false);                // angle pi / 2: all on the sine
        assertEquals(rMax, quarter, Math.ulp(rMax));
        assertEquals(0f, Philox.boxMuller(0, 0x4000_0000, true), 1e-6f);
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
