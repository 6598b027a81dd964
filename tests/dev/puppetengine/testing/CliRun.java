package dev.puppetengine.testing;

import dev.puppetengine.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.IntSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** One command run in this JVM as a user would run it: its exit code and what it printed on stdout and on stderr. */
public record CliRun(int code, String out, String err) {
    public static CliRun of(String... args) {
        return capture(() -> Main.run(args));
    }

    /** Runs {@code action} in this JVM with stdout and stderr captured, as {@link #of} runs a command; its result is the code. */
    public static CliRun capture(IntSupplier action) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = action.getAsInt();
            return new CliRun(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** What {@code action} (a step of a command, not a whole one) printed on stderr. */
    public static String stderrDuring(Runnable action) {
        return capture(() -> {
            action.run();
            return 0;
        }).err();
    }

    /** Runs the command, requires exit code {@code code} (the failure shows stderr) and returns stderr. */
    public static String stderrOf(int code, String... args) {
        CliRun r = of(args);
        assertEquals(code, r.code, r.err);
        return r.err;
    }

    /** Everything printed: stdout, then stderr. */
    public String text() { return out + err; }
}
