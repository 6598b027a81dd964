package dev.puppetengine.tensor;

import dev.puppetengine.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memo on its own (CapturedSamplerTest and UNetBehaviourTest use it through a UNet forward). */
class DeviceConstantsTest {
    private final AtomicInteger built = new AtomicInteger();
    private final Supplier<Tensor> make = () -> {
        built.incrementAndGet();
        return Tensor.of(CpuBackend.get(), DType.F32, new int[]{1}, 7);
    };

    @Test
    void withoutAMemoEachGetBuildsInTheCurrentScope() {
        try (Scope s = Scope.open()) {
            Tensor a = DeviceConstants.get("k", make), b = DeviceConstants.get("k", make);
            assertNotSame(a, b);
            assertEquals(2, built.get());
            assertSame(s, a.owner());
        }
    }

    /** Built once per key, owned by the memo: it outlives the caller's scope and is freed when the memo closes. */
    @Test
    void aMemoBuildsOncePerKeyAndOwnsWhatItBuilt() {
        Tensor a;
        try (DeviceConstants memo = DeviceConstants.open()) {
            try (Scope s = Scope.open()) {
                a = DeviceConstants.get("k", make);
                assertSame(a, DeviceConstants.get("k", make));
                assertNotSame(a, DeviceConstants.get("other", make));
                assertEquals(2, built.get());
                assertEquals(2, memo.size());
            }
            assertFalse(a.isClosed());
            assertEquals(7, a.item());
        }
        assertTrue(a.isClosed());
        try (Scope s = Scope.open()) {
            assertNotSame(a, DeviceConstants.get("k", make));   // closed: no memo is current again
        }
    }

    /** A frozen memo refuses a miss naming the key and why, still answers a hit, and a nested freeze restores the outer one. */
    @Test
    void aFrozenMemoRefusesOnlyMisses() {
        try (Scope s = Scope.open(); DeviceConstants memo = DeviceConstants.open()) {
            Tensor a = DeviceConstants.get("k", make);
            try (DeviceConstants.Freeze outer = memo.freeze("capture")) {
                assertSame(a, DeviceConstants.get("k", make));
                try (DeviceConstants.Freeze inner = memo.freeze("inner")) {
                    assertTrue(assertThrows(IllegalStateException.class, () -> DeviceConstants.get("m", make)).getMessage().contains("inner"));
                }
                String why = assertThrows(IllegalStateException.class, () -> DeviceConstants.get("m", make)).getMessage();
                assertTrue(why.contains("device constant m ") && why.contains("during capture"), why);
            }
            DeviceConstants.get("m", make);
            assertEquals(2, built.get());
        }
    }

    /** Closing the inner memo empties it and makes the outer one current again. */
    @Test
    void closingRestoresTheMemoOpenedBefore() {
        try (Scope s = Scope.open(); DeviceConstants outer = DeviceConstants.open()) {
            Tensor a = DeviceConstants.get("k", make);
            DeviceConstants inner = DeviceConstants.open();
            assertNotSame(a, DeviceConstants.get("k", make));
            assertEquals(1, inner.size());
            inner.close();
            assertEquals(0, inner.size());
            assertSame(a, DeviceConstants.get("k", make));
        }
    }

    /** Closed out of order (outer first), the inner memo's close does not make the closed outer one current again. */
    @Test
    void anOuterMemoClosedFirstIsNotRestored() {
        try (Scope s = Scope.open()) {
            DeviceConstants outer = DeviceConstants.open(), inner = DeviceConstants.open();
            outer.close();
            inner.close();
            Tensor a = DeviceConstants.get("k", make), b = DeviceConstants.get("k", make);   // no memo open: built each time, here
            assertNotSame(a, b);
            assertSame(s, a.owner());
        }
    }

    @Test
    void identityKeysCompareByIdentity() {
        String x = new String("x"), y = new String("x");
        assertEquals(DeviceConstants.identity(x), DeviceConstants.identity(x));
        assertEquals(DeviceConstants.identity(x).hashCode(), DeviceConstants.identity(x).hashCode());
        assertNotEquals(DeviceConstants.identity(x), DeviceConstants.identity(y));
        assertNotEquals(DeviceConstants.identity(x), x);
        assertEquals("identity(x)", DeviceConstants.identity(x).toString());
    }
}
