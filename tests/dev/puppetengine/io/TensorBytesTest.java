package dev.puppetengine.io;

import dev.puppetengine.tensor.DType;
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

    /** Every NaN payload and both infinities of the 16-bit types are found; denormals and signed zeros are finite. */
    @Test
    void firstFailingFindsNaNPayloadsAndInfinitiesNotDenormals() {
        ByteBuffer finiteBf16 = shorts(0x0001, 0x8001, 0x8000, 0x7f7f, 0xff7f);   // denormals, -0, +-max
        assertNull(TensorBytes.firstFailing(finiteBf16, DType.BF16, Double::isFinite));
        assertEquals(0, finiteBf16.position(), "not consumed");
        assertEquals("element 2 of 3 is NaN", TensorBytes.firstFailing(shorts(0, 0x3f80, 0x7f81), DType.BF16, Double::isFinite));
        assertEquals("element 0 of 1 is NaN", TensorBytes.firstFailing(shorts(0xffc1), DType.BF16, Double::isFinite));
        assertEquals("element 1 of 2 is -Infinity", TensorBytes.firstFailing(shorts(0, 0xff80), DType.BF16, Double::isFinite));
        assertNull(TensorBytes.firstFailing(shorts(0x0001, 0x7bff, 0xfbff), DType.F16, Double::isFinite));
        assertEquals("element 0 of 2 is NaN", TensorBytes.firstFailing(shorts(0x7e01, 0), DType.F16, Double::isFinite));
        assertEquals("element 1 of 2 is Infinity", TensorBytes.firstFailing(shorts(0, 0x7c00), DType.F16, Double::isFinite));
        ByteBuffer f64 = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(Double.MIN_VALUE).putDouble(-1).putDouble(Double.MAX_VALUE).flip();
        assertNull(TensorBytes.firstFailing(f64, DType.F64, Double::isFinite));
        assertEquals("element 1 of 3 is -1.0", TensorBytes.firstFailing(f64, DType.F64, x -> x >= 0));
        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.MIN_VALUE).putInt(0x7fc00001).flip();
        assertEquals("element 1 of 2 is NaN", TensorBytes.firstFailing(f32, DType.F32, Double::isFinite));
        assertThrows(IllegalArgumentException.class, () -> TensorBytes.firstFailing(ByteBuffer.allocate(8), DType.I64, Double::isFinite));
    }
}
