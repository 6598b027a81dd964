package dev.puppetengine.cli;

import dev.puppetengine.train.GracefulStop;

/** For work that keeps what it did as it goes (nothing to finish on a signal): a stop that only tells the user how to continue. */
final class StopNote {
    private StopNote() {}

    /** Prints "stopped: {@code message}" when SIGINT/SIGTERM ends the JVM before the result is closed. */
    static GracefulStop saying(String message) {
        return GracefulStop.onSignal(() -> ProgressBars.println("stopped: " + message), 0);   // the bar still open: a line of its own
    }
}
