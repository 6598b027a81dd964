package dev.puppetengine.cli;

import dev.puppetengine.train.GracefulStop;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.concurrent.CancellationException;

/**
 * For work with nothing to finish on a signal (it keeps what it did as it goes, or writes its result whole at the end):
 * SIGINT/SIGTERM prints "stopped: message" and interrupts the thread that opened the stop, so that the write under way
 * unwinds, removing its temporary files and releasing its locks (an interrupted write fails at once); the JVM exits
 * when the work has closed the stop, or after {@link #UNWIND_SECONDS} (a computation notices an interrupt only at its
 * next write or sampling step). Open the stop before the locks the work takes, so that it closes after them.
 */
public final class StopNote {
    static final long UNWIND_SECONDS = 10;

    private StopNote() {}

    public static GracefulStop saying(String message) {
        Thread work = Thread.currentThread();
        return GracefulStop.onSignal(() -> {
            // the bar still open: a line of its own below it (the JVM exits next: the bar is not redrawn under the note)
            ProgressBars.printlnOnExit("stopped: " + message);
            work.interrupt();
        }, UNWIND_SECONDS);
    }

    /** Whether {@code t} is what an interrupt from {@link #saying} makes work throw as it unwinds (not a failure of its own). */
    static boolean unwinding(Throwable t) {
        if (!GracefulStop.signalled()) return false;
        for (Throwable c = t; c != null; c = c.getCause())
            if (c instanceof ClosedByInterruptException || c instanceof InterruptedIOException || c instanceof InterruptedException
                    || c instanceof CancellationException) return true;
        return false;
    }
}
