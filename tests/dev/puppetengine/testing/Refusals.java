package dev.puppetengine.testing;

import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Refusals of bad arguments (configs, shapes): the IllegalArgumentException and the start of its message. */
public final class Refusals {
    private Refusals() {}

    public static void assertRefused(String messageStart, Executable build) {
        var e = assertThrows(IllegalArgumentException.class, build);
        assertTrue(e.getMessage().startsWith(messageStart), e.getMessage());
    }
}
