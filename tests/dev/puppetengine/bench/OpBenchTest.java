package dev.puppetengine.bench;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.testing.WatchedBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

class OpBenchTest {
    /**
     * The warm-up calls run (each followed by a synchronize, as is the prepared inputs' upload) before the timed ones,
     * and the median is of the sorted times: timeMillis scripted to 5, 1, 3 ms gives 3, not the middle call's 1.
     * BenchOpsTest's runs take --warmup 0 --iters 1, where neither shows.
     */
    @Test
    void warmsUpThenTakesTheMedianOfTheSortedTimes() {
        List<String> calls = new ArrayList<>();
        double[] scripted = {5, 1, 3};
        AtomicInteger timed = new AtomicInteger(), runs = new AtomicInteger();
        Backend scripting = WatchedBackend.of(CpuBackend.get(), (m, args, next) -> {
            calls.add(m.getName());
            if (!m.getName().equals("timeMillis")) return next.run();
            ((Runnable) args[0]).run();
            return scripted[timed.getAndIncrement()];
        });
        OpCase c = new OpCase("counted", "g", null, 0, 0, 1, be -> runs::incrementAndGet);
        assertEquals(3.0, OpBench.time(scripting, c, 2, 3));
        assertEquals(5, runs.get());
        assertEquals(List.of("synchronize", "synchronize", "synchronize", "timeMillis", "timeMillis", "timeMillis"), calls);
    }
}
