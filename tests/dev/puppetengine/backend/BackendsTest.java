package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.backend.cuda.CudaUnavailableException;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Device selection: auto falls back to the CPU, an explicit cuda request without one fails saying why. */
class BackendsTest {

    @Test
    void cpuIsTheReference() {
        assertSame(CpuBackend.get(), Backends.select("cpu"));
        assertSame(CpuBackend.get(), Backends.select("CPU"), "any case, as dtypes");
        assertEquals("device is null (expected cpu, cuda or auto)", assertThrows(IllegalArgumentException.class, () -> Backends.select(null)).getMessage());
    }

    @Test
    void autoIsTheCpuUnlessOptedInThenCudaWhenUsable() {
        assertEquals("cpu", Backends.select("auto").name());
        String why = Backends.cudaUnavailableReason();
        System.setProperty("puppet.cuda.auto", "true");
        try {
            assertEquals(why == null ? "cuda" : "cpu", Backends.select("auto").name());
        } finally {
            System.clearProperty("puppet.cuda.auto");
        }
    }

    @Test
    void explicitCudaWithoutADeviceSaysWhy() {
        String why = Backends.cudaUnavailableReason();
        assumeTrue(why != null, "this machine has a usable CUDA device");
        Backends.DeviceUnavailableException e = assertThrows(Backends.DeviceUnavailableException.class, () -> Backends.select("cuda"));
        String m = e.getMessage();
        assertEquals("CUDA requested but unusable: " + why, m, "the reason asked for is the one the refusal gives");
        // One of the reasons the brief names, in words a user can act on, and no multi-page native stack dump.
        switch (e.reason()) {
            case LIBCUDA_MISSING: assertTrue(m.contains("libcuda.so.1") && m.contains("driver"), m); break;
            case NO_DEVICE: assertTrue(m.contains("no CUDA device"), m); break;
            case DRIVER_TOO_OLD: assertTrue(m.contains("driver") && m.contains("580"), m); break;
            default: assertTrue(m.length() > 20, m);
        }
        assertTrue(m.lines().count() == 1, "one-line message: " + m);
        // The answer is stable: a second request gives the same reason (JCuda cannot retry a failed load).
        assertEquals(m, assertThrows(Backends.DeviceUnavailableException.class, () -> Backends.select("cuda")).getMessage());
        System.out.println("select(cuda) here: " + m);
    }

    /**
     * A driver call failing after cuInit (the emulator's SIMT_FAIL makes cuStreamCreate fail as an exclusive-process GPU
     * in use would) is a reason CUDA is unavailable, the same on every ask, and auto falls back to the CPU.
     */
    @Test
    void aDriverCallFailingAtStartIsAReasonNotACrash() throws Exception {
        assumeTrue(Backends.cudaUnavailableReason() == null && ((CudaBackend) Backends.select("cuda")).deviceName()
                .startsWith("SIMT emulator"), "needs the SIMT emulator, which injects the failure");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), FailingStart.class.getName()).redirectErrorStream(true);
        pb.environment().put("SIMT_FAIL", "cuStreamCreate");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("reason: CUDA initialisation failed: cuStreamCreate failed: CUDA_ERROR_DEVICE_UNAVAILABLE (46)\nagain: the same\n")
                && out.contains("\nauto: cpu\n"), out);
    }

    /** The child process of the test above. */
    static final class FailingStart {
        public static void main(String[] args) {
            String why = Backends.cudaUnavailableReason();
            System.out.println("reason: " + why);
            System.out.println("again: " + (why.equals(Backends.cudaUnavailableReason()) ? "the same" : Backends.cudaUnavailableReason()));
            System.setProperty("puppet.cuda.auto", "true");
            System.out.println("auto: " + Backends.select("auto").name());
        }
    }

    @Test
    void unknownNameIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Backends.select("tpu"));
    }

    @Test
    void reasonsCoverTheCasesTheMessageDistinguishes() {
        List<String> names = new ArrayList<>();
        for (CudaUnavailableException.Reason r : CudaUnavailableException.Reason.values()) names.add(r.name());
        assertTrue(names.containsAll(List.of("LIBCUDA_MISSING", "NO_DEVICE", "DRIVER_TOO_OLD")), names.toString());
    }

    /** When the build ran nvcc (any fatbin present), every kernels/*.cu has its fatbin on the classpath. */
    @Test
    void everyKernelFileHasItsFatbin() throws Exception {
        Path src = Path.of("kernels");
        assumeTrue(Files.isDirectory(src), "run from the project root");
        assumeTrue(BackendsTest.class.getResource("/kernels/copy.fatbin") != null, "kernels not compiled in this build (no nvcc)");
        try (Stream<Path> cus = Files.list(src)) {
            for (Path cu : (Iterable<Path>) cus.filter(p -> p.toString().endsWith(".cu"))::iterator) {
                String name = cu.getFileName().toString().replace(".cu", "");
                assertTrue(BackendsTest.class.getResource("/kernels/" + name + ".fatbin") != null, "missing fatbin for " + cu + File.separator);
            }
        }
    }
}
