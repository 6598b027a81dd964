package dev.puppetengine.testing;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backend the {@code gpu}-tagged tests exercise, probed once per JVM and shared by every such test (op harness,
 * UNet parity, pipeline parity): CUDA device 0 with every allocation NaN-poisoned (so an element no kernel wrote
 * shows up as NaN), or nothing, with the reason, where CUDA is unusable. With {@code -Dpuppet.harness.cpuSelfTest=true}
 * the CPU backend stands in for the device: the tests then run here, CPU against CPU, which checks the test code
 * (inputs, shapes, names, comparisons), not the kernels.
 */
public final class DeviceUnderTest {
    /** System property: the CPU stands in for CUDA. */
    public static final String CPU_SELF_TEST = "puppet.harness.cpuSelfTest";
    /** System property: no usable CUDA is a failure, not a skip, and the CPU may not stand in (the GPU checks set it). */
    public static final String REQUIRE_DEVICE = "puppet.harness.requireDevice";

    private static boolean probed;
    private static Backend device;
    private static String unavailable;

    private DeviceUnderTest() {}

    /** The device backend, or null when CUDA is unusable here (see {@link #unavailableReason}). */
    public static synchronized Backend probe() {
        if (probed) return device;
        probed = true;
        if (cpuStandIn()) {
            device = CpuBackend.get();
            return device;
        }
        try {
            CudaBackend cuda = CudaBackend.get();
            cuda.setPoisonAllocations(true);
            device = cuda;
        } catch (CudaUnavailableException e) {
            unavailable = "no usable CUDA here (" + e.reason() + "): " + e.getMessage();
        }
        return device;
    }

    /** Why {@link #probe} returned null (null when it did not). */
    public static synchronized String unavailableReason() {
        probe();
        return unavailable;
    }

    /** True when the CPU stands in for the device (-Dpuppet.harness.cpuSelfTest=true). */
    public static boolean cpuStandIn() {
        return Boolean.getBoolean(CPU_SELF_TEST);
    }

    /**
     * The device, or a JUnit assumption failure saying why not. Call it per test (in {@code @BeforeEach} or at the
     * top of the test), so each test reports as skipped rather than the class vanishing on a machine without CUDA.
     */
    public static Backend require() {
        Backend b = probe();
        if (Boolean.getBoolean(REQUIRE_DEVICE)) {   // on the GPU machine a run that skipped everything must not read as a pass
            assertFalse(cpuStandIn(), "-D" + REQUIRE_DEVICE + "=true with the CPU standing in (-D" + CPU_SELF_TEST + "=true)");
            assertNotNull(b, "-D" + REQUIRE_DEVICE + "=true: " + unavailableReason());
        }
        assumeTrue(b != null, unavailableReason());
        return b;
    }

    /** The CUDA backend itself, for tests of CUDA-only mechanisms (graphs); skipped without it and under the CPU stand-in. */
    public static CudaBackend requireCuda() {
        Backend b = require();
        assumeTrue(b instanceof CudaBackend, "needs CUDA itself: the CPU stand-in (-D" + CPU_SELF_TEST + "=true) has no graphs");
        return (CudaBackend) b;
    }

    /** A one-line description for logs: which device runs, and whether it is the CPU stand-in. */
    public static String describe() {
        Backend b = probe();
        if (b == null) return "none (" + unavailableReason() + ")";
        if (cpuStandIn()) return "cpu (stand-in for CUDA: -D" + CPU_SELF_TEST + "=true)";
        CudaBackend c = (CudaBackend) b;
        return "cuda on " + c.deviceName() + (c.usesCublas() ? ", cuBLAS and built-in GEMM kernels" : ", built-in GEMM kernels");
    }
}
