package dev.puppetengine.train;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shutdown hook SIGINT/SIGTERM runs, run here by hand (its Runnable, not the registered thread, which the JVM starts at
 * exit): it asks the work to stop, then waits until the work closes the GracefulStop (its checkpoint saved), or at most the
 * limit; closing drops the hook of a JVM that goes on. The in-process half of TrainerTest's kill test, whose child runs it.
 */
class GracefulStopTest {
    @Test
    void theHookAsksForAStopAndWaitsUntilTheWorkIsClosed() throws Exception {
        CountDownLatch asked = new CountDownLatch(1);
        GracefulStop stop = GracefulStop.onSignal(asked::countDown, 60);
        try {   // a failed assertion must not leave the hook registered: the test JVM's exit would wait its 60 s
            Thread hook = stop.hook();
            assertTrue(Runtime.getRuntime().removeShutdownHook(hook), "registered with the JVM");
            Runtime.getRuntime().addShutdownHook(hook);
            Thread signal = new Thread(hook::run);   // as the JVM would at a signal
            signal.start();
            assertTrue(asked.await(30, TimeUnit.SECONDS), "the hook asks the work to stop");
            signal.join(300);
            assertTrue(signal.isAlive(), "the hook waits while the work saves what it did");
            stop.close();
            signal.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(signal.isAlive(), "closed: the hook returns and the JVM may exit");
            assertFalse(Runtime.getRuntime().removeShutdownHook(hook), "closed: the hook is no longer registered");
        } finally {
            stop.close();
        }
    }

    @Test
    void theHookWaitsAtMostItsLimit() throws Exception {
        int[] asked = {0};
        GracefulStop stop = GracefulStop.onSignal(() -> asked[0]++, 1);
        try {
            Thread hook = stop.hook();
            long t0 = System.nanoTime();
            hook.run();
            double s = (System.nanoTime() - t0) / 1e9;
            assertTrue(asked[0] == 1 && s >= 0.9 && s < 30, asked[0] + " stop requests, returned after " + s + " s");
        } finally {
            stop.close();
        }
    }

    /** Interrupted while it waits, the hook returns at once, keeping the interrupt for whoever runs it. */
    @Test
    void anInterruptedHookReturnsKeepingTheInterrupt() throws Exception {
        CountDownLatch asked = new CountDownLatch(1);
        boolean[] interrupted = {false};
        GracefulStop stop = GracefulStop.onSignal(asked::countDown, 60);
        try {
            Thread hook = stop.hook();
            Thread signal = new Thread(() -> {
                hook.run();
                interrupted[0] = Thread.currentThread().isInterrupted();
            });
            signal.start();
            assertTrue(asked.await(30, TimeUnit.SECONDS));
            signal.interrupt();
            signal.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(signal.isAlive());
            assertTrue(interrupted[0], "the interrupt is kept");
        } finally {
            stop.close();
        }
    }
}
