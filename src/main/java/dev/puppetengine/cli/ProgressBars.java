package dev.puppetengine.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The one console progress bar every long command shows (ASCII, so logs and Windows consoles render it): count, ETA, a
 * free message. On a terminal it is redrawn in place; when stderr is a pipe or a file (CI, nohup) it is written as plain
 * lines, one every {@link #LOG_EVERY_MILLIS} and the last, since carriage-return redraws make a log unreadable.
 * Lines a command prints while a bar is open go through {@link #println}, which keeps them off the bar's line; on a
 * terminal so do other writes to {@code System.err} (slf4j's simple logger, say the CUDA tuner's lines), taken over while
 * the bar is open.
 */
public final class ProgressBars {
    private ProgressBars() {}

    static final long LOG_EVERY_MILLIS = 10_000;
    private static final int MAX_WIDTH = 130;

    private static volatile Console open;

    /** {@code unit}: a label such as " steps" to show the speed in (then twice a second), or null (once a second, no speed). */
    public static ProgressBar of(String task, long total, String unit) {
        return of(task, total, unit, 0);
    }

    /** A bar for work resumed with {@code done} of {@code total} already done (its speed and ETA count only what this run does). */
    public static ProgressBar of(String task, long total, String unit, long done) {
        Console console = new Console(System.err, StderrTerminal.WIDTH);
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(console).setUpdateIntervalMillis(unit != null ? 250 : 1000).startsFrom(done, Duration.ZERO);
        if (unit != null) b.showSpeed(new DecimalFormat("0.0", DecimalFormatSymbols.getInstance(Locale.ROOT))).setUnit(unit, 1);   // "0.2 steps/s", not ".2"
        ProgressBar bar = b.build();
        console.takeStderr();   // after build: a build that threw would have left stderr taken
        open = console;
        // progressbar 0.10.1 draws a bar first on its render thread, and only a later run of its update action closes
        // the consumer: a bar closed before that first run (no work to do: a finished resume, an empty batch) had its
        // close taken for the first draw, leaving the Console unclosed (no line end on a terminal, `open` still set, so
        // later println went to it). One render thread runs both in order, so once the first draw is under way here,
        // close always reaches Console.close.
        console.awaitFirstDraw();
        return bar;
    }

    /** Prints a line on stderr; while a bar is open, on a line of its own above the bar. */
    public static void println(String line) {
        Console c = open;
        if (c != null) c.println(line);
        else System.err.println(line);
    }

    /**
     * As {@link #println}, for a signal's note just before the JVM exits (StopNote): on a terminal the bar's line is
     * ended where it stands and the bar not redrawn below the note, which would leave the shell's prompt on the bar.
     */
    public static void printlnOnExit(String line) {
        Console c = open;
        if (c != null) c.printlnOnExit(line);
        else System.err.println(line);
    }

    /** The width a bar on stderr has: 0 where stderr is not a terminal. */
    static int stderrWidth() {
        return StderrTerminal.WIDTH;
    }

    /**
     * Whether stderr is a terminal, and its width (0: not a terminal). Asked once, of the shell, with stderr handed to it:
     * jline's exec provider asked the same, but to hand stderr over it extracted a native library into java.io.tmpdir on
     * every run (a stray error line where that is not writable), and it asked stty on stdin (redirected: width unknown).
     */
    private static final class StderrTerminal {
        static final int WIDTH = width();

        private static int width() {
            try {
                // one shell: exit 3 where stderr is not a terminal, else its "rows cols" (nothing where stty cannot say)
                Process sh = new ProcessBuilder("sh", "-c", "test -t 2 || exit 3; stty size <&2 2>/dev/null").redirectError(ProcessBuilder.Redirect.INHERIT).start();
                String[] rowsCols = new String(sh.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip().split("\\s+");
                int rc = sh.waitFor();
                if (rc == 3) return 0;
                int cols = rc == 0 && rowsCols.length == 2 ? Integer.parseInt(rowsCols[1]) : 0;
                // one column short: a full line would wrap on some terminals; an unknown width 79, as wider would wrap (a new
                // line per redraw) on an 80-column one
                return cols > 1 ? Math.min(MAX_WIDTH, cols - 1) : 79;
            } catch (IOException | NumberFormatException e) {   // no shell: as if not a terminal, plain lines are safe anywhere
                return 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 0;
            }
        }
    }

    /** {@code width} 0: not a terminal. */
    static final class Console implements ProgressBarConsumer {
        private final PrintStream out;
        private final int width;
        private final LongSupplier nanos;   // a monotonic clock: a wall clock set back would hold the lines for as long
        private final CountDownLatch drawn = new CountDownLatch(1);
        private String last;
        private boolean ended;   // the bar's line ended for good (printlnOnExit on a terminal, or close), no more redraws
        private String printed;
        private long printedAt;   // nanos
        private PrintStream replaced, taken;   // System.err before takeStderr, put back on close; and the one it set
        private final AboveBar sink = new AboveBar();

        Console(PrintStream out, int width) {
            this(out, width, System::nanoTime);
        }

        /** {@code nanos}: the clock of the interval between lines into a pipe (tests pass their own). */
        Console(PrintStream out, int width, LongSupplier nanos) {
            this.out = out;
            this.width = width;
            this.nanos = nanos;
        }

        @Override
        public int getMaxRenderedLength() { return width > 0 ? width : MAX_WIDTH; }

        @Override
        public synchronized void accept(String rendered) {
            try {
                if (ended) return;
                last = rendered.stripTrailing();
                if (width > 0) {
                    redraw();
                } else if (!last.equals(printed) && (printed == null || nanos.getAsLong() - printedAt >= TimeUnit.MILLISECONDS.toNanos(LOG_EVERY_MILLIS))) {
                    out.println(last);
                    printed = last;
                    printedAt = nanos.getAsLong();
                }
            } finally {
                drawn.countDown();
            }
        }

        /**
         * On a terminal, makes {@code System.err} a stream whose every line goes through {@link #println} until the bar
         * closes: a line written there straight (a logger's) would land on the bar's line and be overwritten by its next
         * redraw. Into a pipe the bar writes whole lines, so other lines cannot be glued to it: nothing to take.
         */
        synchronized void takeStderr() {
            if (width == 0) return;
            replaced = System.err;
            taken = new PrintStream(sink, true, StandardCharsets.UTF_8);
            System.setErr(taken);
        }

        /** Collects bytes written to the taken stderr into lines for {@link #println} (UTF-8 both ways: lossless). */
        private final class AboveBar extends OutputStream {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                synchronized (Console.this) {
                    if (taken == null) out.write(b);   // given back at close: a stream fetched before (a logger thread's) writes through
                    else if (b == '\n') flushLine();
                    else line.write(b);
                }
            }

            /** Emits a line collected so far; a partial one too (at close: nothing written is lost). */
            void flushLine() {
                String s = line.toString(StandardCharsets.UTF_8);
                line.reset();
                if (s.endsWith("\r")) s = s.substring(0, s.length() - 1);   // a CRLF line separator
                println(s);
            }
        }

        /** Waits (a little at most) for the bar's first draw: see {@link ProgressBars#of(String, long, String, long)}. */
        void awaitFirstDraw() {
            try {
                drawn.await(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void redraw() {
            out.print('\r' + last + " ".repeat(Math.max(0, width - last.length())));   // spaces: a shorter line must not leave the last one's tail
            out.flush();
        }

        synchronized void println(String line) {
            if (width > 0 && last != null && !ended) {
                out.print('\r' + " ".repeat(width) + '\r');
                out.println(line);
                redraw();
            } else {
                out.println(line);
            }
        }

        synchronized void printlnOnExit(String line) {
            if (width > 0 && last != null && !ended) {
                out.println();   // the bar stays as it stood, above the note
                ended = true;
            }
            if (sink.line.size() > 0) sink.flushLine();   // a partial line on the taken stderr: the JVM exits without closing the bar
            out.println(line);
        }

        @Override
        public synchronized void close() {
            if (open == this) open = null;
            if (taken != null) {
                if (sink.line.size() > 0) sink.flushLine();
                if (System.err == taken) System.setErr(replaced);   // unless someone set another since
                taken = null;
            }
            if (last == null || ended) return;
            ended = true;   // a println that still reaches it (having read `open` before close) is a plain line: no bar redrawn below
            if (width > 0) out.println();
            else if (!last.equals(printed)) out.println(last);
        }
    }
}
