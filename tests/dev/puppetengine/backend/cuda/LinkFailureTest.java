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

    /** JCuda's message where it could not extract its library into java.io.tmpdir (as it reads there, trimmed of the stack frames). */
    private static UnsatisfiedLinkError extractionFailed(String why) {
        return new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\nOperating system name: Linux\n"
                + "---(start of nested stack traces)---\nStack trace from the attempt to load the library as a file:\n"
                + "java.lang.UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/java/packages/lib:/usr/lib\n"
                + "\tat java.base/java.lang.ClassLoader.loadLibrary(ClassLoader.java:2434)\n"
                + "Stack trace from the attempt to load the library as a resource:\n" + why + "\n\tat jcuda.LibUtils.loadLibraryResource(LibUtils.java:280)\n"
                + "---(end of nested stack traces)---\n");
    }

    /** A temporary directory JCuda cannot write, cannot make, or cannot run a library from (noexec): which, and what to do. */
    @Test
    void anUnusableTemporaryDirectoryIsNamed() {
        String todo = ": java.io.tmpdir must be a writable directory that allows executables (TMPDIR=DIR ./puppet-engine ...)";
        assertEquals("could not write /tmp/ro/libJCudaDriver-12.6.0-linux-x86_64.so (Permission denied)" + todo,
                Cu.linkFailure(extractionFailed("java.io.FileNotFoundException: /tmp/ro/libJCudaDriver-12.6.0-linux-x86_64.so (Permission denied)")));
        assertEquals("could not make /tmp/ro/missing" + todo,
                Cu.linkFailure(extractionFailed("java.io.IOException: Could not create directory for temporary file: /tmp/ro/missing")));
        assertEquals("could not load /mnt/noexec/libJCudaDriver-12.6.0-linux-x86_64.so (failed to map segment from shared object: a noexec mount?)" + todo,
                Cu.linkFailure(extractionFailed("java.lang.UnsatisfiedLinkError: /mnt/noexec/libJCudaDriver-12.6.0-linux-x86_64.so: "
                        + "/mnt/noexec/libJCudaDriver-12.6.0-linux-x86_64.so: failed to map segment from shared object")));
    }
}
