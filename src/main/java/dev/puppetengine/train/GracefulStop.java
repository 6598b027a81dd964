package dev.puppetengine.train;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Makes SIGINT/SIGTERM stop long work cleanly: the JVM's shutdown hook asks the work to stop at its next safe point
 * and waits (up to a limit) until the work has saved what it did and closed this. Used by the trainer (finish the
 * optimiser step, checkpoint) and prepare (commit the clips encoded so far).
 */
public final class GracefulStop implements AutoCloseable {
    private final CountDownLatch done = new CountDownLatch(1);
    private final Thread hook;

    private GracefulStop(Runnable requestStop, long maxWaitSeconds) {
        hook = new Thread(() -> {
            requestStop.run();
            try {
                done.await(maxWaitSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "puppet-engine-graceful-stop");
        Runtime.getRuntime().addShutdownHook(hook);
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
