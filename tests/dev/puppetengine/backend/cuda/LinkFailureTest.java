package dev.puppetengine.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JCuda's native-library errors said in one line (their messages nest a page of stack traces). Pure Java, no GPU. */
class LinkFailureTest {
    /** JCublas's real message on a machine without libcuBLAS 12 (the SIMT emulator's, as on a CUDA-13-only GPU machine): 69 lines. */
    private static String jcublasMessage() throws IOException {
        try (InputStream in = LinkFailureTest.class.getResourceAsStream("jcublas-load-error.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void theLibraryTheLoaderCouldNotOpenIsNamed() throws IOException {
        String m = jcublasMessage();
        assertTrue(m.lines().count() > 60, "the fixture is JCuda's whole message");
        assertEquals("libcublas.so.12: cannot open shared object file", Cu.linkFailure(new UnsatisfiedLinkError(m)));
    }

    @Test
    void elseTheFirstLineOfTheMessageOrItsCauses() {
        assertEquals("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"",
                Cu.linkFailure(new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\nOperating system name: Linux")));
        NoClassDefFoundError later = new NoClassDefFoundError("Could not initialize class jcuda.driver.JCudaDriver");
        later.initCause(new UnsatisfiedLinkError("x.so: libcuda.so.1: cannot open shared object file: No such file or directory"));
        assertEquals("libcuda.so.1: cannot open shared object file", Cu.linkFailure(later), "a later try's error: the first one's reason is its cause");
    }

    @Test
    void noDriverLibrarySaysWhatToInstall() {
        String m = CudaBackend.linkFailure(new UnsatisfiedLinkError("Error while loading native library\n/tmp/libJCudaDriver.so: libcuda.so.1: cannot open shared object file"));
        assertTrue(m.startsWith("libcuda.so.1 (the NVIDIA driver library) is not installed"), m);
        assertEquals(1, m.lines().count());
    }
}
