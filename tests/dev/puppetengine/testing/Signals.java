package dev.puppetengine.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Child JVMs for the tests of what a signal does (a JVM's shutdown hooks run only as it exits). The tests send SIGTERM
 * (Process.destroy), which runs the same hooks as Ctrl-C's SIGINT: a build started in the background (CI, nohup) passes
 * its children SIGINT ignored, and a JVM leaves an ignored SIGINT ignored.
 */
public final class Signals {
    private Signals() {}

    /** {@code java -cp <the tests' class path> mainClass args...}, its output (both streams) into {@code log}. */
    public static Process java(Path log, String mainClass, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();   // a file: a signal closes no pipe
    }
}
