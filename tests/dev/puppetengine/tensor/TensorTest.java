package dev.puppetengine.tensor;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.testing.TorchPickles;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorTest {
    private static final CpuBackend CPU = CpuBackend.get();

    private static Tensor iota(DType t, int... shape) {
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return Tensor.of(CPU, t, shape, v);
    }

    @Test
    void viewsAliasTheirStorage() {
        try (Scope s = Scope.open()) {
            Tensor base = iota(DType.F32, 3, 4);
            Tensor row = base.narrow(0, 1, 1);
            CPU.fill(row, -1);
            assertArrayEquals(new double[]{0, 1, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11}, base.toDoubleArray());
            Tensor t = base.transpose(0, 1);
            assertFalse(t.isContiguous());
            assertArrayEquals(new int[]{4, 3}, t.shape());
            assertArrayEquals(new double[]{0, -1, 8, 1, -1, 9, 2, -1, 10, 3, -1, 11}, t.toDoubleArray());
            Tensor col = base.narrow(1, 2, 1);
            CPU.fill(col, 7);
            assertEquals(7, base.toDoubleArray()[6]);
            assertEquals(7, base.toDoubleArray()[10]);
        }
    }

    @Test
    void reshapeIsAViewWhenStridesAllowAndACopyOtherwise() {
        try (Scope s = Scope.open()) {
            Tensor base = iota(DType.F32, 2, 3, 4);
            Tensor v = base.reshape(6, 4);
            assertTrue(v.storage() == base.storage());
            Tensor p = base.permute(0, 2, 1);                 // (2,4,3), not contiguous
            Tensor merged = p.reshape(8, 3);                  // dims 0,1 not mergeable: copy
            assertFalse(merged.storage() == base.storage());
            assertArrayEquals(p.toDoubleArray(), merged.toDoubleArray());
            Tensor sliced = base.narrow(2, 0, 2).reshape(2, 3, 2, 1); // splitting the last dim keeps a view
            assertTrue(sliced.storage() == base.storage());
            assertArrayEquals(base.narrow(2, 0, 2).toDoubleArray(), sliced.toDoubleArray());
            assertThrows(IllegalArgumentException.class, () -> base.reshape(5, -1));
        }
    }

    @Test
    void expandUsesStrideZero() {
        try (Scope s = Scope.open()) {
            Tensor a = iota(DType.F64, 3, 1);
            Tensor e = a.expand(2, 3, 4);
            assertArrayEquals(new long[]{0, 1, 0}, e.strides());
            double[] v = e.toDoubleArray();
            assertEquals(24, v.length);
            assertEquals(2, v[23]);
            assertThrows(IllegalArgumentException.class, () -> a.expand(2, 1));
        }
    }

    @Test
    void scopesFreeMemoryAndEscapeMovesOwnership() {
        long before = CPU.bytesInUse();
        Tensor kept;
        try (Scope outer = Scope.open()) {
            try (Scope inner = Scope.open()) {
                Tensor tmp = iota(DType.F32, 100);
                kept = Scope.escape(iota(DType.F32, 10));
                assertEquals(1, inner.size());                 // only tmp: the escapee moved to outer
            }
            assertEquals(before + 40, CPU.bytesInUse());
            assertEquals(outer, kept.owner());
            assertFalse(kept.isClosed());
        }
        assertTrue(kept.isClosed());
        assertEquals(before, CPU.bytesInUse());
    }

    /**
     * An opened scope, and a tensor it owns, are closed on their own thread only: from another, the scope stayed current
     * on its thread (closed, refusing every tensor made there after, for the thread's life), and a tensor's removal
     * raced the thread's registrations.
     */
    @Test
    void anotherThreadCannotCloseAThreadsScopeOrItsTensors() throws Exception {
        long before = CPU.bytesInUse();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            try (Scope s = Scope.open()) {
                Tensor t = iota(DType.F32, 4);
                assertEquals("scope used from another thread", refusedOn(other, () -> { s.close(); return null; }));
                assertEquals("scope used from another thread", refusedOn(other, () -> { t.close(); return null; }));
                assertFalse(s.isClosed());
                assertFalse(t.isClosed());
                assertSame(s, Scope.current());
                assertSame(s, iota(DType.F32, 2).owner(), "the thread still makes tensors in its scope");
            }
            assertNull(Scope.current());
            assertEquals(before, CPU.bytesInUse(), "all freed by the scope's own close");
            Scope weights = Scope.detached();   // a long-lived scope, as a model's weights: whoever owns it may close it anywhere
            try (Scope.Use u = weights.use()) {
                iota(DType.F32, 4);
            }
            other.submit(weights::close).get();
            assertTrue(weights.isClosed());
            assertEquals(before, CPU.bytesInUse(), "the detached scope's tensors freed on the other thread");
        } finally {
            other.shutdown();
        }
    }

    private static String refusedOn(ExecutorService thread, Callable<Void> call) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> thread.submit(call).get());
        assertTrue(e.getCause() instanceof IllegalStateException, String.valueOf(e.getCause()));
        return e.getCause().getMessage();
    }

    @Test
    void storageLivesWhileAnyViewLives() {
        long before = CPU.bytesInUse();
        Tensor base = iota(DType.F32, 8);
        Tensor view = base.narrow(0, 2, 3);
        base.close();
        assertArrayEquals(new double[]{2, 3, 4}, view.toDoubleArray());
        view.close();
        assertEquals(before, CPU.bytesInUse());
        assertThrows(IllegalStateException.class, view::toDoubleArray);
    }

    @Test
    void dtypeConversionsRoundToNearestEven() {
        // bf16: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1); 1 + 3*2^-8 ties -> 1 + 2^-6 (even mantissa)
        assertEquals(1.0f, Half.bf16ToFloat(Half.floatToBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-6f, Half.bf16ToFloat(Half.floatToBf16(1f + 3 * 0x1p-8f)));
        assertEquals(1f + 0x1p-7f, Half.bf16ToFloat(Half.floatToBf16(1f + 0x1p-8f + 0x1p-20f)));
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))));
        // fp16: 2049 is a tie between 2048 and 2050 -> 2048; 2051 -> 2052; max 65504; overflow -> inf; subnormals
        assertEquals(2048f, Half.f16ToFloat(Half.floatToF16(2049f)));
        assertEquals(2052f, Half.f16ToFloat(Half.floatToF16(2051f)));
        assertEquals(65504f, Half.f16ToFloat(Half.floatToF16(65504f)));
        assertEquals(Float.POSITIVE_INFINITY, Half.f16ToFloat(Half.floatToF16(65520f)));
        assertEquals(0x1p-24f, Half.f16ToFloat(Half.floatToF16(0x1p-24f)));
        assertEquals(0f, Half.f16ToFloat(Half.floatToF16(0x1p-26f)));
        assertEquals(-3 * 0x1p-24f, Half.f16ToFloat(Half.floatToF16(-3 * 0x1p-24f)));
        // every fp16 and bf16 bit pattern survives float and back
        for (int h = 0; h < 65536; h++) {
            float f = Half.f16ToFloat((short) h);
            if (!Float.isNaN(f)) assertEquals((short) h, Half.floatToF16(f), "f16 " + h);
            float g = Half.bf16ToFloat((short) h);
            if (!Float.isNaN(g)) assertEquals((short) h, Half.floatToBf16(g), "bf16 " + h);
        }
    }

    /** A double result stored as bf16/fp16 rounds once: through the nearest float it could land on a false tie. */
    @Test
    void doublesRoundOnceToBf16AndF16() {
        assertEquals(1f + 0x1p-7f, Half.bf16ToFloat(Half.doubleToBf16(1 + 0x1p-8 + 0x1p-40)));
        assertEquals(1f + 0x1p-10f, Half.f16ToFloat(Half.doubleToF16(1 + 0x1p-11 + 0x1p-40)));
        assertEquals(0x1p-24f, Half.f16ToFloat(Half.doubleToF16(0x1p-25 + 0x1p-60)));            // a subnormal
        assertEquals(1.0f, Half.bf16ToFloat(Half.doubleToBf16(1 + 0x1p-8)));                    // a true tie stays even
        assertEquals(Float.POSITIVE_INFINITY, Half.bf16ToFloat(Half.doubleToBf16(1e300)));
        assertEquals(Float.NEGATIVE_INFINITY, Half.f16ToFloat(Half.doubleToF16(-1e300)));
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.doubleToBf16(Double.NaN))));
        Random rng = new Random(5);
        for (int i = 0; i < 50_000; i++) {   // against rounding the double's own bits: 45 (bf16) or 42 (fp16) dropped
            long bits = Double.doubleToRawLongBits((rng.nextBoolean() ? 1 : -1) * Math.scalb(1 + rng.nextDouble(), rng.nextInt(28) - 14));
            for (int drop : new int[]{45, 42}) {                         // |v| in [2^-14, 2^14): normal in both
                long tie = bits & ~((1L << drop) - 1) | 1L << (drop - 1);
                for (long v : new long[]{bits, tie, tie + 1, tie - 1}) {   // random, a tie, just above, just below
                    double d = Double.longBitsToDouble(v);
                    float got = drop == 45 ? Half.bf16ToFloat(Half.doubleToBf16(d)) : Half.f16ToFloat(Half.doubleToF16(d));
                    assertEquals(rne(d, drop), got, 0, (drop == 45 ? "bf16 " : "f16 ") + d);
                }
            }
        }
        try (Scope s = Scope.open()) {                                   // the CPU backend's results, and uploads
            Tensor x = Tensor.of(CPU, DType.BF16, new int[]{3}, 1, 0x1p-8, 0x1p-30);
            assertEquals(1 + 0x1p-7, F.sumTo(x, 1).toDoubleArray()[0]);
            assertEquals(1 + 0x1p-7, Tensor.of(CPU, DType.BF16, new int[]{1}, 1 + 0x1p-8 + 0x1p-40).item());
        }
    }

    /** v rounded to nearest even with its low {@code drop} mantissa bits removed (normal numbers). */
    private static double rne(double v, int drop) {
        long bits = Double.doubleToRawLongBits(v);
        long r = bits + (1L << (drop - 1)) - 1 + ((bits >>> drop) & 1);
        return Double.longBitsToDouble(r >>> drop << drop);
    }

    /**
     * The integer dtypes against hand-written little-endian bytes: I64 and I32 sign-extend, U8 and BOOL are unsigned
     * (0xc8 is 200, not -56); each encodes back to the same bytes.
     */
    @Test
    void integerDtypesDecodeAndEncodeTheirLittleEndianBytes() {
        integers(DType.I64, new double[]{-2, 0x1p32}, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0);
        integers(DType.I32, new double[]{-2, 0x01020304}, 0xfe, 0xff, 0xff, 0xff, 4, 3, 2, 1);
        integers(DType.U8, new double[]{200, 1, 0}, 0xc8, 1, 0);
        integers(DType.BOOL, new double[]{1, 0}, 1, 0);
        try (Scope s = Scope.open()) {
            assertArrayEquals(new double[]{-2, 200}, Tensor.of(CPU, DType.I32, new int[]{2}, -2, 200).toDoubleArray());
        }
    }

    private static void integers(DType t, double[] values, Object... littleEndian) {
        ByteBuffer bytes = ByteBuffer.wrap(TorchPickles.bytes(littleEndian));
        assertArrayEquals(values, HostData.decode(bytes, t, values.length), t.toString());
        assertEquals(bytes, HostData.encode(values, t), t.toString());
    }

    @Test
    void aBinaryOpTakesTheFirstFloatingInputsDtype() {
        try (Scope s = Scope.open()) {
            Tensor i = Tensor.of(CPU, DType.I32, new int[]{2}, 1, 2), f = Tensor.of(CPU, DType.F32, new int[]{2}, 0.5, 0.25);
            Tensor y = F.add(i, f);
            assertEquals(DType.F32, y.dtype());
            assertArrayEquals(new double[]{1.5, 2.25}, y.toDoubleArray());
            assertEquals(DType.F32, F.add(f, i).dtype());
            // neither floating: the first input's, so 2^40 + 1 is not cut to an I32
            Tensor big = Tensor.of(CPU, DType.I64, new int[]{2}, 1L << 40, 3);
            Tensor sum = F.add(big, i);
            assertEquals(DType.I64, sum.dtype());
            assertArrayEquals(new double[]{(1L << 40) + 1, 5}, sum.toDoubleArray());
        }
    }

    @Test
    void tensorsConvertBetweenDtypes() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.of(CPU, DType.F32, new int[]{3}, 1.0, 1.00390625, -2.5);
            assertArrayEquals(new double[]{1.0, 1.0, -2.5}, a.to(DType.BF16).toDoubleArray());
            assertArrayEquals(new double[]{1.0, 1.00390625, -2.5}, a.to(DType.F16).toDoubleArray());
            assertEquals(DType.F64, a.to(DType.F64).dtype());
        }
    }

    /**
     * NaN, infinity, overflow and the subnormal range of the conversions: a NaN whose rounding carry would reach the
     * exponent (0x7f800001, 0x7fffffff) stays a NaN in bf16 with its sign; in fp16 a NaN keeps its top payload bits, an
     * exponent one past fp16's largest is infinity (not a NaN), subnormal ties go to even, and a float far below 2^-24
     * is a signed zero (a shift by 32 or more would wrap).
     */
    @Test
    void conversionsAtTheEdges() {
        assertEquals((short) 0x7fc0, Half.floatToBf16(Float.intBitsToFloat(0x7f800001)));
        assertEquals((short) 0x7fff, Half.floatToBf16(Float.intBitsToFloat(0x7fffffff)));
        assertEquals((short) 0xffc0, Half.floatToBf16(Float.intBitsToFloat(0xffc00000)));
        assertEquals((short) 0x7f00, Half.floatToF16(Float.intBitsToFloat(0x7fe00000)));
        assertEquals((short) 0xfe00, Half.floatToF16(Float.intBitsToFloat(0xffc00000)));
        assertEquals((short) 0x7e00, Half.floatToF16(Float.intBitsToFloat(0x7f800001)));
        assertEquals((short) 0x7c00, Half.floatToF16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0x7c00, Half.floatToF16(98304f));   // 1.5 x 2^16
        assertEquals((short) 0, Half.floatToF16(0x1p-25f));      // tie between 0 and 2^-24: even
        assertEquals((short) 2, Half.floatToF16(3 * 0x1p-25f));  // tie between 1 and 2 x 2^-24: even
        assertEquals((short) 1, Half.floatToF16(0x1p-25f + 0x1p-40f));
        assertEquals((short) 0, Half.floatToF16(1e-20f));
        assertEquals((short) 0x8000, Half.floatToF16(-1e-20f));
    }

    /**
     * A Use leaves its scope once (closing it again is a no-op) and only in order: an outer one left first is refused and
     * stays open, so closing it in order afterwards still leaves its scope (it did nothing: the scope stayed current).
     */
    @Test
    void scopeUsesCloseOnceAndInOrder() {
        Scope a = Scope.detached(), b = Scope.detached();
        try {
            Scope.Use ua = a.use(), ub = b.use();
            assertThrows(IllegalStateException.class, ua::close);
            assertSame(b, Scope.current());
            ub.close();
            ub.close();
            assertSame(a, Scope.current());
            ua.close();
            assertNull(Scope.current());
        } finally {
            a.close();
            b.close();
        }
    }

    /** escape moves only what the current scope owns: with no scope open, or a tensor of an outer scope, it changes nothing. */
    @Test
    void escapeLeavesWhatTheCurrentScopeDoesNotOwn() {
        assertNull(Scope.current());
        try (Tensor t = iota(DType.F32, 2)) {
            assertNull(t.owner());
            assertSame(t, Scope.escape(t));
            assertNull(t.owner());
        }
        try (Scope a = Scope.open()) {
            Tensor t = iota(DType.F32, 2);
            try (Scope b = Scope.open(); Scope c = Scope.open()) {
                assertSame(t, Scope.escape(t));
                assertSame(a, t.owner());
            }
            assertFalse(t.isClosed());
        }
    }

    /** A storage's reference count refuses use after the last release, and a release too many. */
    @Test
    void aFreedStorageIsNeitherRetainedNorReleasedAgain() {
        Tensor t = iota(DType.F32, 2);
        Storage s = t.storage();
        t.close();
        assertEquals("storage already freed", assertThrows(IllegalStateException.class, s::retain).getMessage());
        assertEquals("storage released twice", assertThrows(IllegalStateException.class, s::release).getMessage());
    }

    /** Under HostTransfers.forbid every host read and write is refused; after the guard, allowed again. */
    @Test
    void hostTransfersForbidden() {
        try (Tensor t = iota(DType.F32, 2)) {
            try (HostTransfers.Guard g = HostTransfers.forbid("a test")) {
                assertTrue(assertThrows(IllegalStateException.class, t::toDoubleArray).getMessage().contains("host read"));
                assertTrue(assertThrows(IllegalStateException.class, () -> t.copyFrom(new double[]{1, 2})).getMessage().contains("host write"));
            }
            assertArrayEquals(new double[]{0, 1}, t.toDoubleArray());
            try (HostTransfers.Guard outer = HostTransfers.forbid("the outer region")) {
                try (HostTransfers.Guard inner = HostTransfers.forbid("the inner region")) {
                    assertTrue(assertThrows(IllegalStateException.class, t::toDoubleArray).getMessage().contains("the inner region"));
                }
                assertTrue(assertThrows(IllegalStateException.class, t::toDoubleArray).getMessage().contains("the outer region"),
                        "the inner guard's close restores the outer ban");
            }
            assertArrayEquals(new double[]{0, 1}, t.toDoubleArray());
        }
    }

    /**
     * Views are checked against their storage: in bounds at both ends (negative strides reach below the offset), one
     * element past either end refused, an empty view anywhere, a rank mismatch refused; a closed handle makes no view
     * even while another view keeps the storage alive, and closing it twice releases the storage once.
     */
    @Test
    void viewsAreCheckedAgainstTheirStorage() {
        try (Scope sc = Scope.open()) {
            Tensor base = iota(DType.F32, 4);
            base.view(new int[]{4}, new long[]{1}, 0).close();
            base.view(new int[]{2}, new long[]{-1}, 1).close();
            base.view(new int[]{1}, new long[]{1}, 3).close();
            base.view(new int[]{0, 2}, new long[]{1, 1}, 100).close();
            assertThrows(IndexOutOfBoundsException.class, () -> base.view(new int[]{4}, new long[]{1}, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> base.view(new int[]{2}, new long[]{-1}, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> base.view(new int[]{1}, new long[]{1}, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> base.view(new int[]{1}, new long[]{1}, -1));
            assertThrows(IllegalArgumentException.class, () -> base.view(new int[]{2}, new long[]{1, 1}, 0));
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(base.storage(), 5));
            Tensor view = base.narrow(0, 1, 2);
            base.close();
            base.close();
            assertThrows(IllegalStateException.class, base::alias);
            assertThrows(IllegalStateException.class, base::storage);
            assertTrue(base.toString().endsWith("(closed)"), base.toString());
            assertEquals("Tensor[2] F32 on " + CPU.name(), view.toString());
            assertArrayEquals(new double[]{1, 2}, view.toDoubleArray(), "the storage outlives base's double close");
            assertArrayEquals(new float[]{1, 2}, view.toFloatArray());
        }
    }

    /** The shape ops' refusals: narrow's range, permute's order, expand's target; transpose in 3-D, expand's -1 and new dims. */
    @Test
    void shapeOpsCheckTheirArguments() {
        try (Scope sc = Scope.open()) {
            Tensor x = iota(DType.F32, 2, 3, 4);
            assertArrayEquals(new double[]{3}, x.narrow(2, 3, 1).narrow(1, 0, 1).narrow(0, 0, 1).toDoubleArray());
            assertEquals(0, x.narrow(1, 3, 0).numel());
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, 2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, -1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, 0, -1));
            // past the view's own end though inside its storage: refused by narrow, not left to the storage bounds
            Tensor n = iota(DType.F32, 4, 6).narrow(1, 1, 3);
            String m = assertThrows(IndexOutOfBoundsException.class, () -> n.narrow(1, 2, 2)).getMessage();
            assertTrue(m.startsWith("narrow(1, 2, 2)"), m);
            assertThrows(IllegalArgumentException.class, () -> x.permute(1, 0));
            assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1, 1));
            Tensor t = x.transpose(0, 2);
            assertArrayEquals(new int[]{4, 3, 2}, t.shape());
            assertArrayEquals(new long[]{1, 4, 12}, t.strides());
            assertEquals(12, t.stride(-1));
            Tensor col = iota(DType.F32, 3, 1);
            assertArrayEquals(new int[]{2, 3, 4}, col.expand(2, -1, 4).shape());
            assertArrayEquals(new long[]{0, 1, 0}, col.expand(2, -1, 4).strides());
            assertEquals(0, col.expand(0, 3, 1).numel());
            assertThrows(IllegalArgumentException.class, () -> col.expand(3));
            assertThrows(IllegalArgumentException.class, () -> col.expand(-1, 3, 1));
            assertThrows(IllegalArgumentException.class, () -> col.expand(2, 4));
        }
    }

    /**
     * reshape of a non-contiguous tensor is a view exactly where torch's computeStride finds one (chunks of mergeable
     * dims, size-1 dims anywhere), else a copy; either way the values are the contiguous tensor's, reshaped.
     */
    @Test
    void reshapeOfANonContiguousTensorViewsWhereStridesAllow() {
        try (Scope sc = Scope.open()) {
            Tensor expanded = iota(DType.F32, 3, 1).expand(3, 4);                              // strides (1, 0)
            reshapesAs(expanded, true, 3, 2, 2);
            reshapesAs(expanded, false, 12);
            Tensor t = iota(DType.F32, 2, 3, 4).transpose(0, 1);                                // (3, 2, 4), strides (4, 12, 1)
            reshapesAs(t, true, 3, 2, 2, 2);
            reshapesAs(t, true, 3, 1, 2, 4, 1);
            reshapesAs(t, false, 6, 4);
            reshapesAs(t, false, 3, 8);
            Tensor n = iota(DType.F32, 4, 6).narrow(1, 1, 3);                                   // (4, 3), strides (6, 1)
            reshapesAs(n, true, 2, 2, 3);
            reshapesAs(n, true, 1, 4, 3);
            reshapesAs(n, true, 4, 3, 1);
            reshapesAs(n, false, 12);
            Tensor base = iota(DType.F32, 48);
            reshapesAs(base.view(new int[]{3, 1, 4}, new long[]{8, 99, 1}, 0), true, 3, 4);    // a size-1 dim's stride is free
            reshapesAs(base.view(new int[]{2, 3, 4}, new long[]{24, 8, 2}, 0), true, 24);      // one chunk, element stride 2
            reshapesAs(base.view(new int[]{2, 3, 4}, new long[]{24, 8, 2}, 0), true, 6, 2, 2);
        }
    }

    private static void reshapesAs(Tensor x, boolean view, int... shape) {
        assertFalse(x.isContiguous());
        double[] want;
        try (Tensor c = x.contiguous()) {
            want = c.toDoubleArray();
        }
        Tensor r = x.reshape(shape);
        assertArrayEquals(shape, r.shape());
        assertEquals(view, r.storage() == x.storage(), Arrays.toString(shape) + (view ? " a view" : " a copy"));
        assertArrayEquals(want, r.toDoubleArray(), Arrays.toString(shape));
    }

    /** contiguous() and to() of what already is so are aliases (no copy); item and copyFrom refuse what they cannot take. */
    @Test
    void aliasesWhereNoCopyIsNeededAndHostAccessChecks() {
        try (Scope sc = Scope.open()) {
            Tensor x = iota(DType.F32, 2, 3);
            assertSame(x.storage(), x.contiguous().storage());
            assertSame(x.storage(), x.to(DType.F32).storage());
            assertSame(x.storage(), x.to(CPU).storage());
            Tensor t = x.transpose(0, 1);
            assertFalse(t.contiguous().storage() == x.storage());
            assertFalse(t.to(DType.F32).storage() == x.storage());
            assertArrayEquals(new double[]{0, 3, 1, 4, 2, 5}, t.to(DType.F32).toDoubleArray());
            assertThrows(IllegalStateException.class, x::item);
            assertEquals(4, x.narrow(0, 1, 1).narrow(1, 1, 1).item());
            assertThrows(IllegalStateException.class, () -> t.copyFrom(new double[6]));
            assertThrows(IllegalArgumentException.class, () -> x.copyFrom(new double[5]));
        }
    }

    @Test
    void dtypeNames() {
        for (DType d : DType.values()) {
            assertEquals(d.name(), d.safetensorsName());
            assertSame(d, DType.fromSafetensors(d.safetensorsName()));
        }
        assertNull(DType.fromSafetensors("F8_E4M3"));
        assertSame(DType.F32, DType.parse("Float32"));
        assertSame(DType.BF16, DType.parse("bf16"));
        assertSame(DType.F16, DType.parse("half"));
        assertSame(DType.F64, DType.parse("FP64"));
        assertThrows(IllegalArgumentException.class, () -> DType.parse("int8"));
    }
}
