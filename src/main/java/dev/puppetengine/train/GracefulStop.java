package dev.puppetengine.train;

import dev.puppetengine.io.LockFile;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Makes SIGINT/SIGTERM stop long work cleanly: the JVM's shutdown hook asks the work to stop at its next safe point
 * and waits (up to a limit) until the work has saved what it did and closed this; then the locks the process still holds
 * are released (their files removed). Used by the trainer (checkpoint the last finished step), prepare (commit the
 * clips encoded so far) and, interrupting the work, by the CLI's StopNote.
 */
public final class GracefulStop implements AutoCloseable {
    private static volatile boolean signalled;

    private final CountDownLatch done = new CountDownLatch(1);
    private final Runnable requestStop;
    private final long maxWaitSeconds;
    private final Thread hook;

    private GracefulStop(Runnable requestStop, long maxWaitSeconds) {
        this.requestStop = requestStop;
        this.maxWaitSeconds = maxWaitSeconds;
        hook = new Thread(this::stop, "puppet-engine-graceful-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** What the hook does: asks the stop and waits for the work to close this. */
    private void stop() {
        boolean exiting = Thread.currentThread() == hook;   // the JVM's start of the hook, not a test's hook().run()
        if (exiting) signalled = true;
        requestStop.run();
        try {
            done.await(maxWaitSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
        if (exiting) LockFile.releaseAll();   // the work has stopped (or had its time): a lock it still holds is not left behind
    }

    /** Whether a signal has asked a stop (the JVM is exiting): what work unwinding from it then throws is no error to report. */
    public static boolean signalled() {
        return signalled;
    }

    /** Registers the hook; close the result when the work has returned. */
    public static GracefulStop onSignal(Runnable requestStop, long maxWaitSeconds) {
        return new GracefulStop(requestStop, maxWaitSeconds);
    }

    /** The thread a signal starts: tests run it by hand, as the JVM would, without stopping the JVM. */
    Thread hook() {
        return hook;
    }

    /** The work has returned: a stopping JVM may exit; a running one drops the hook (else it keeps the work reachable). */
    @Override
    public void close() {
        done.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: the latch lets it finish
        }
    }
}
