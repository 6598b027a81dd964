package dev.puppetengine.io;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Half;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TensorBytesTest {
    private static ByteBuffer shorts(int... bits) {
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int s : bits) b.putShort((short) s);
        return b.flip();
    }

    /**
     * Every NaN payload and both infinities of the 16-bit types are found; denormals and signed zeros are finite, and -0 is
     * not below zero.
     */
    @Test
    void nonFiniteFindsNaNPayloadsAndInfinitiesNotDenormals() {
        ByteBuffer finiteBf16 = shorts(0x0001, 0x8001, 0x8000, 0x7f7f, 0xff7f);   // denormals, -0, +-max
        assertNull(TensorBytes.nonFinite(finiteBf16, DType.BF16));
        assertEquals(0, finiteBf16.position(), "not consumed");
        assertEquals("element 2 of 3 is NaN", TensorBytes.nonFinite(shorts(0, 0x3f80, 0x7f81), DType.BF16));
        assertEquals("element 0 of 1 is NaN", TensorBytes.nonFinite(shorts(0xffc1), DType.BF16));
        assertEquals("element 1 of 2 is -Infinity", TensorBytes.nonFinite(shorts(0, 0xff80), DType.BF16));
        assertNull(TensorBytes.nonFinite(shorts(0x0001, 0x7bff, 0xfbff), DType.F16));
        assertEquals("element 0 of 2 is NaN", TensorBytes.nonFinite(shorts(0x7e01, 0), DType.F16));
        assertEquals("element 1 of 2 is Infinity", TensorBytes.nonFinite(shorts(0, 0x7c00), DType.F16));
        ByteBuffer f64 = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(Double.MIN_VALUE).putDouble(-1).putDouble(Double.MAX_VALUE).flip();
        assertNull(TensorBytes.nonFinite(f64, DType.F64));
        assertEquals("element 1 of 3 is -1.0", TensorBytes.negativeOrNonFinite(f64, DType.F64));
        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.MIN_VALUE).putInt(0x7fc00001).flip();
        assertEquals("element 1 of 2 is NaN", TensorBytes.nonFinite(f32, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> TensorBytes.nonFinite(ByteBuffer.allocate(8), DType.I64));
        assertNull(TensorBytes.negativeOrNonFinite(shorts(0x8000, 0, 0x0001), DType.BF16), "-0 and denormals are not below zero");
        // -2^-24 as the running Java spells it: Double.toString's digits changed in Java 19 (-5.9604644775390625E-8 before,
        // -5.960464477539063E-8 since). A call, not a constant: javac would fold "..." + -0x1p-24 with its own Java's digits.
        assertEquals("element 1 of 2 is " + Double.toString(-0x1p-24), TensorBytes.negativeOrNonFinite(shorts(0x8000, 0x8001), DType.F16), "a negative denormal is");
        ByteBuffer negZero = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(0x80000000).putFloat(2).putFloat(-1e-45f).flip();
        assertEquals("element 2 of 3 is -1.401298464324817E-45", TensorBytes.negativeOrNonFinite(negZero, DType.F32));
        assertNull(TensorBytes.negativeOrNonFinite(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0, -0.0), DType.F64));
        ByteBuffer from2 = shorts(0x7f80, 0, 0x7fc0).position(2);   // elements counted from the position
        assertEquals("element 1 of 2 is NaN", TensorBytes.nonFinite(from2, DType.BF16));
    }

    /** F16's overflow bound is where conversion rounds to an infinity: 65519.99 still rounds to 65504, 65520 does not. */
    @Test
    void overflowsF16AtTheRoundingBound() {
        ByteBuffer f32 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(65519.99f).putFloat(-65519.99f).putFloat(-65520f).flip();
        assertEquals("element 2 of 3 is -Infinity", TensorBytes.overflows(f32, DType.F32, DType.F16));
        assertEquals(0, f32.position(), "not consumed");
        f32.limit(8);
        assertNull(TensorBytes.overflows(f32, DType.F32, DType.F16));
        assertEquals("element 0 of 1 is Infinity", TensorBytes.overflows(shorts(0x4780), DType.BF16, DType.F16));   // 65536
    }

    /** BF16 keeps nearly all of F32's range: only the top sliver, from 2^128 - 2^119, rounds to an infinity. */
    @Test
    void overflowsBf16OnlyInF32sTopSliver() {
        float below = Math.nextDown(0x1.ffp127f), bound = 0x1.ffp127f;
        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(-below).putFloat(bound).flip();
        assertEquals("element 1 of 2 is Infinity", TensorBytes.overflows(f32, DType.F32, DType.BF16));
        ByteBuffer f64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1e300).putDouble(1).flip();
        assertEquals("element 0 of 2 is Infinity", TensorBytes.overflows(f64, DType.F64, DType.F32));
        assertNull(TensorBytes.overflows(f32, DType.F32, DType.F32), "same type");
        assertNull(TensorBytes.overflows(f64, DType.F64, DType.F64), "wider type");
        assertNull(TensorBytes.overflows(shorts(0x7f7f), DType.BF16, DType.F32), "wider type");
    }

    /** Each bound agrees with the conversion the loader does: the value just below stays finite, the bound becomes infinite. */
    @Test
    void boundsAgreeWithTheConversions() {
        for (double x : new double[]{65519.99, 65520})
            assertEquals(x >= 65520, Float.isInfinite(Half.f16ToFloat(Half.doubleToF16(x))), "f16 " + x);
        for (double x : new double[]{Math.nextDown(0x1.ffp127), 0x1.ffp127})
            assertEquals(x >= 0x1.ffp127, Float.isInfinite(Half.bf16ToFloat(Half.doubleToBf16(x))), "bf16 from f64 " + x);
        for (float x : new float[]{Math.nextDown(0x1.ffp127f), 0x1.ffp127f})
            assertEquals(x >= 0x1.ffp127f, Float.isInfinite(Half.bf16ToFloat(Half.floatToBf16(x))), "bf16 from f32 " + x);
        for (double x : new double[]{Math.nextDown(0x1.ffffffp127), 0x1.ffffffp127})
            assertEquals(x >= 0x1.ffffffp127, Float.isInfinite((float) x), "f32 " + x);
    }

    /**
     * A conversion longer than one chunk (2^20 elements) converts every element in its place, the chunk's last and the next
     * one's first included; integer dtypes, and bytes that are not numel elements, are refused rather than read as something else.
     */
    @Test
    void uploadConvertsChunkByChunkAndRefusesWhatItCannotRead() {
        int n = (1 << 20) + 3;
        ByteBuffer in = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) in.putFloat(i);   // every i exact in F32 and F64
        try (Tensor t = TensorBytes.upload(CpuBackend.get(), in.flip(), DType.F32, new int[] {n}, DType.F64)) {
            double[] got = t.toDoubleArray();
            assertEquals(n, got.length);
            for (int i = 0; i < n; i++) if (got[i] != i) assertEquals(i, got[i], "element " + i);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorBytes.upload(CpuBackend.get(), ByteBuffer.allocate(16), DType.I64, new int[] {2}, DType.F32));
        assertEquals("cannot convert I64 to F32 (only between floating types)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TensorBytes.upload(CpuBackend.get(), ByteBuffer.allocate(7), DType.F32, new int[] {2}, DType.F32));
        assertEquals("7 bytes for 2 elements of F32 [2]", e.getMessage());
    }
}
