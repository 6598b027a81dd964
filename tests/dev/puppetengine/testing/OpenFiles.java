package dev.puppetengine.testing;

import com.sun.management.UnixOperatingSystemMXBean;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** This JVM's open file descriptors, for tests that a refused or closed file is not left open; skips where they cannot be counted. */
public final class OpenFiles {
    private OpenFiles() {}

    public static long count() {
        assumeTrue(ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean, "counts open files on Unix");
        return ((UnixOperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getOpenFileDescriptorCount();
    }
}
