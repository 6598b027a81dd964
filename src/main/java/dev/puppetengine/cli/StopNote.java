package dev.puppetengine.cli;

/**
 * A line for the user when the JVM is stopped (Ctrl-C, SIGTERM) while a resumable command works: what was kept and
 * how to continue. Closing it (the work ended) removes it.
 */
final class StopNote implements AutoCloseable {
    private final Thread hook;

    private StopNote(String message) {
        hook = new Thread(() -> System.err.println(System.lineSeparator() + "stopped: " + message), "puppet-engine-stop-note");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    static StopNote register(String message) {
        return new StopNote(message);
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the note is being printed
        }
    }
}
