package dev.puppetengine.bench;

import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The CPU reference backend's hot paths at toy-model sizes: GEMM (linear layers) and channels-last 3x3
 * convolution forward and backward. Run: java -jar target/benchmarks.jar CpuOpsBenchmark
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CpuOpsBenchmark {
    private static final CpuBackend CPU = CpuBackend.get();

    /** Square GEMM side (M = N = K). */
    @Param({"256", "512"})
    public int n;

    /** Conv channels (Cin = Cout) at 14 frames x 16 x 16. */
    @Param({"32", "64"})
    public int channels;

    private Scope scope;
    private Tensor a, b, x, w, gy;

    @Setup(Level.Trial)
    public void setup() {
        scope = Scope.open();
        a = random(n, n);
        b = random(n, n);
        x = random(14, 16, 16, channels);
        w = random(channels, 3, 3, channels);
        gy = random(14, 16, 16, channels);
    }

    private static Tensor random(int... shape) {
        Tensor t = CPU.empty(DType.F32, shape);
        CPU.fillRandom(t, RandomKind.NORMAL, 1, 0);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public double matmul() {
        try (Tensor y = CPU.matmul(a, b)) {
            return y.numel();
        }
    }

    @Benchmark
    public double conv3x3Forward() {
        try (Tensor y = CPU.conv2d(x, w, null, ConvSpec.of(1, 1))) {
            return y.numel();
        }
    }

    @Benchmark
    public double conv3x3BackwardInput() {
        try (Tensor y = CPU.conv2dBackwardInput(gy, w, x.shape(), ConvSpec.of(1, 1))) {
            return y.numel();
        }
    }

    @Benchmark
    public double conv3x3BackwardWeight() {
        try (Tensor y = CPU.conv2dBackwardWeight(gy, x, w.shape(), ConvSpec.of(1, 1))) {
            return y.numel();
        }
    }
}
