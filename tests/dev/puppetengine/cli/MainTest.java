package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;

import java.io.EOFException;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How Main words an exception for the user. */
class MainTest {
    /** An exception without a message (a bare EOFException) is named by its kind, never as "null". */
    @Test
    void anExceptionWithoutAMessageIsNamedByItsKind() {
        assertEquals("EOFException", Main.message(new EOFException()));
        assertEquals("EOFException", Main.reason(new EOFException()));
        assertEquals("UserError", Main.message(new UserError(" ")));
        assertEquals("end of file", Main.message(new EOFException("end of file")));
        assertEquals("EOFException: end of file", Main.reason(new EOFException("end of file")));
    }
}
