package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The engine's log lines (the CUDA backend's, the sampler's) reach the user on stderr as "LEVEL message", like the CLI's own notes. */
class LogFormatTest {
    @Test
    void logLinesNameTheirLevelButNotTheThreadOrClass() {
        PrintStream was = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            LoggerFactory.getLogger(LogFormatTest.class).warn("CUDA graph requested but not used, sampling eagerly: {}", "why");
            LoggerFactory.getLogger(LogFormatTest.class).info("CUDA backend on {}", "a GPU");
            LoggerFactory.getLogger(LogFormatTest.class).debug("not shown");
        } finally {
            System.setErr(was);
        }
        assertEquals("WARN CUDA graph requested but not used, sampling eagerly: why\nINFO CUDA backend on a GPU\n",
                err.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }
}
