package dev.puppetengine.cli;

import dev.puppetengine.train.GracefulStop;

/** For work that keeps what it did as it goes (nothing to finish on a signal): a stop that only tells the user how to continue. */
final class StopNote {
    private StopNote() {}

    /** Prints "stopped: {@code message}" when SIGINT/SIGTERM ends the JVM before the result is closed. */
    static GracefulStop saying(String message) {
        // the bar still open: a line of its own below it (the JVM exits next: the bar is not redrawn under the note)
        return GracefulStop.onSignal(() -> ProgressBars.printlnOnExit("stopped: " + message), 0);
    }
}
