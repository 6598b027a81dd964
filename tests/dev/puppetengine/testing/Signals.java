package dev.puppetengine.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Child JVMs for the tests of what a signal does (a JVM's shutdown hooks run only as it exits), and the signals. */
public final class Signals {
    private Signals() {}

    /** {@code java -cp <the tests' class path> mainClass args...}, its output (both streams) into {@code log}. */
    public static Process java(Path log, String mainClass, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();   // a file: a signal closes no pipe
    }

    /** SIGINT, as Ctrl-C sends it (Process.destroy sends SIGTERM). */
    public static void interrupt(Process p) throws IOException, InterruptedException {
        int rc = new ProcessBuilder("kill", "-INT", String.valueOf(p.pid())).inheritIO().start().waitFor();
        if (rc != 0 && p.isAlive()) throw new IOException("kill -INT " + p.pid() + " failed: exit " + rc);
    }
}
