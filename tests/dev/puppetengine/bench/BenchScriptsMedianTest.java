package dev.puppetengine.bench;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PyTorch sides of the comparisons (kernels/bench/torch_ops.py, torch_sample.py) take the median the engine takes
 * ({@link Median#index}): with the default --iters 10 an upper middle on their side against the engine's lower middle
 * would bias every speedup toward the engine. Runs the scripts' own median code under python3 (torch stubbed: the
 * median needs none of it), with scripted timings 1..n ms in shuffled order.
 */
class BenchScriptsMedianTest {
    private static final String PROBE = String.join("\n",
            "import random, sys, time, types",
            "class Stub(types.ModuleType):",
            "    def __getattr__(self, name): return Stub(name)",
            "    def __call__(self, *a, **k): return Stub('call')",
            "for m in ('torch', 'torch.nn', 'torch.nn.functional'): sys.modules[m] = Stub(m)",
            "sys.modules['torch'].nn = sys.modules['torch.nn']; sys.modules['torch.nn'].functional = sys.modules['torch.nn.functional']",
            "sys.dont_write_bytecode = True",
            "sys.path.insert(0, 'kernels/bench')",
            "import torch_ops, torch_sample",
            "for n in range(1, 9):",
            "    order = list(range(1, n + 1)); random.Random(n).shuffle(order)",
            "    ticks = iter(t for v in order for t in (0.0, v / 1e3))",
            "    time.perf_counter = lambda: next(ticks)",
            "    ops = torch_ops.median_ms(lambda: None, 'cpu', 0, n)",
            "    sample = torch_sample.median_run([{'total': v} for v in order])['total']",
            "    print(n, round(ops), sample)");

    @Test
    void theScriptsMedianIsTheEnginesMedian() throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("python3", "-c", PROBE).directory(Path.of("").toAbsolutePath().toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no python3");
            return;
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        String[] lines = out.strip().split("\n");
        assertEquals(8, lines.length, out);
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            int n = Integer.parseInt(f[0]);
            String expected = String.valueOf(Median.index(n) + 1);   // sorted 1..n: the value at the index is index + 1
            assertEquals(expected, f[1], "torch_ops.py median of " + n + " timings");
            assertEquals(expected, f[2], "torch_sample.py median run of " + n);
        }
    }

    /** Without the refusal no values would have a median at index 0 ((0 - 1) / 2 truncates to 0), read past an empty list. */
    @Test
    void noValuesHaveNoMedian() {
        assertThrows(IllegalArgumentException.class, () -> Median.index(0));
    }
}
