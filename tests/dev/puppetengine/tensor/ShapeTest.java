package dev.puppetengine.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shape's helpers at their edges: zero-size and negative dims, the host-array limit, broadcasting by rank, -1 inference. */
class ShapeTest {
    @Test
    void numelTakesZeroAndRefusesNegativeDims() {
        assertEquals(1, Shape.numel(new int[0]));
        assertEquals(0, Shape.numel(new int[]{2, 0, 3}));
        assertThrows(IllegalArgumentException.class, () -> Shape.numel(new int[]{2, -1}));
        assertThrows(ArithmeticException.class, () -> Shape.numel(new int[]{1 << 30, 1 << 30, 1 << 30}));
        int limit = Integer.MAX_VALUE - 8;   // the largest Java array the JVMs allocate
        assertEquals(limit, Shape.numelInt(new int[]{limit}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shape.numelInt(new int[]{limit + 1}));
        assertTrue(e.getMessage().contains("too large for one host array"), e.getMessage());
        assertEquals("[2, 3]", Shape.str(new int[]{2, 3}));
    }

    @Test
    void broadcastAlignsTrailingDims() {
        assertArrayEquals(new int[]{3, 4}, Shape.broadcast(new int[]{3, 1}, new int[]{1, 4}));
        assertArrayEquals(new int[]{2, 3, 4}, Shape.broadcast(new int[]{4}, new int[]{2, 3, 1}));
        assertArrayEquals(new int[]{2, 3, 4}, Shape.broadcast(new int[]{2, 3, 1}, new int[]{4}));
        assertArrayEquals(new int[]{2, 5, 3}, Shape.broadcast(new int[]{5, 3}, new int[]{2, 1, 3}));
        assertArrayEquals(new int[]{0, 3}, Shape.broadcast(new int[]{1, 3}, new int[]{0, 1}));
        assertArrayEquals(new int[]{2, 3}, Shape.broadcast(new int[]{2, 3}, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> Shape.broadcast(new int[]{2, 3}, new int[]{3, 3}));
        assertThrows(IllegalArgumentException.class, () -> Shape.broadcast(new int[]{3}, new int[]{2, 2}));
    }

    @Test
    void dimTakesNegativeIndicesWithinRank() {
        assertEquals(0, Shape.dim(0, 3));
        assertEquals(2, Shape.dim(2, 3));
        assertEquals(2, Shape.dim(-1, 3));
        assertEquals(0, Shape.dim(-3, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.dim(3, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.dim(-4, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.dim(0, 0));
    }

    @Test
    void inferResolvesOneMinusOne() {
        assertArrayEquals(new int[]{3, 4}, Shape.infer(new int[]{-1, 4}, 12));
        assertArrayEquals(new int[]{2, 6}, Shape.infer(new int[]{2, -1}, 12));
        assertArrayEquals(new int[]{2, 6}, Shape.infer(new int[]{2, 6}, 12));
        String two = assertThrows(IllegalArgumentException.class, () -> Shape.infer(new int[]{-1, -1}, 12)).getMessage();
        assertTrue(two.contains("only one -1"), two);
        // -1 beside a zero dim is ambiguous: refused as such, not a division by zero
        assertThrows(IllegalArgumentException.class, () -> Shape.infer(new int[]{-1, 0}, 0));
        assertThrows(IllegalArgumentException.class, () -> Shape.infer(new int[]{-1, 5}, 12));
        assertThrows(IllegalArgumentException.class, () -> Shape.infer(new int[]{2, 3}, 7));
    }
}
