package dev.puppetengine.cli;

import com.fasterxml.jackson.core.JsonParseException;
import dev.puppetengine.backend.cuda.CudaOutOfMemoryError;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.train.Adam;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** How a failing command ends: exit code and one line on stderr, no stack trace (README: exit codes). */
class MainErrorsTest {
    /** Throws what its argument names. */
    @Command(name = "thrower")
    static final class Thrower implements Callable<Integer> {
        @Parameters
        String what;

        @Override
        public Integer call() throws Exception {
            switch (what) {
                case "heap": throw new OutOfMemoryError("Java heap space");
                case "threads": throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource limits reached");
                case "gpu": throw new CudaOutOfMemoryError("CUDA out of memory: asked for 512.0 MiB; try a smaller batch");
                case "no-gpu": throw new EnvironmentError("--device cuda: CUDA requested but unusable: no CUDA device", null);
                case "input-file": throw new InputFileException("clips/0/meta.json: field 'frames' is -1");
                case "checkpoint": throw new CheckpointException(Path.of("m/unet.safetensors"), "12 bytes, the manifest says 4096");
                case "json": throw new JsonParseException(null, "Unexpected character ('x' (code 120))");
                case "diverged": throw new Adam.NonFiniteException("gradient norm is NaN at step 3; the last checkpoint is kept");
                case "io": throw new NoSuchFileException("data/clips");
                case "unchecked-io": throw new UncheckedIOException("reading data/clips/0", new IOException("Input/output error"));
                default: throw new IllegalArgumentException("--frames must be positive");
            }
        }
    }

    private static String[] run(String what) {
        CommandLine cl = new CommandLine(new Thrower());
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err, true));
        int rc = Main.execute(cl, what);
        return new String[]{String.valueOf(rc), err.toString()};
    }

    @Test
    void outOfMemoryIsOneLineAndAnEnvironmentError() {
        String[] heap = run("heap");
        assertEquals("1", heap[0]);
        assertTrue(heap[1].startsWith("error: out of Java heap memory (") && heap[1].contains("JAVA_OPTS=-Xmx"), heap[1]);
        assertEquals(1, heap[1].strip().lines().count(), heap[1]);
        String[] gpu = run("gpu");
        assertEquals("1", gpu[0]);
        assertEquals("error: CUDA out of memory: asked for 512.0 MiB; try a smaller batch", gpu[1].strip());
        String[] noGpu = run("no-gpu");
        assertEquals("1", noGpu[0], "no usable GPU is the machine, not the input");
        assertEquals("error: --device cuda: CUDA requested but unusable: no CUDA device", noGpu[1].strip());
        String[] bad = run("other");
        assertEquals("2", bad[0], "bad input stays exit 2");
        assertEquals("error: --frames must be positive", bad[1].strip());
    }

    /**
     * Standard output that could not be written (a full disk; /dev/full here) is an error, not exit 0 with the output
     * cut short (describe --keys > keys.txt, convert > report.txt); a pipe whose reader left (| head -1) is not.
     */
    @Test
    void aFailedWriteToStandardOutputIsAnErrorButAClosedPipeIsNot() throws Exception {
        assumeTrue(Files.isWritable(Path.of("/dev/full")) && Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux's /dev/full and /proc");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder full = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "describe", "--keys")
                .redirectOutput(new File("/dev/full"));
        Process p = full.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.waitFor(), err);
        assertEquals("error: could not write all of the standard output (/dev/full): is the disk full?\n", err);
        Process piped = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "describe", "--keys").start();
        piped.getInputStream().close();   // the reader gone before the first line, as head -1 after its line
        err = new String(piped.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, piped.waitFor(), err);
        assertEquals("", err);
    }

    /**
     * A malformed input file (InputFileException, an IOException) or model file (CheckpointException) is bad input, exit 2; raw invalid JSON is said in one line;
     * a diverged run and the file system are exit 1, the latter as what happened to which file.
     */
    @Test
    void eachKindOfFailureGetsItsExitCodeAndOneLine() {
        String[] inputFile = run("input-file");
        assertEquals(List.of("2", "error: clips/0/meta.json: field 'frames' is -1"), List.of(inputFile[0], inputFile[1].strip()));
        assertEquals(List.of("2", "error: m/unet.safetensors: 12 bytes, the manifest says 4096\n"), List.of(run("checkpoint")), "a bad model file is bad input");
        String[] json = run("json");
        assertEquals("2", json[0]);
        assertTrue(json[1].startsWith("error: invalid JSON: Unexpected character ('x' (code 120))") && json[1].strip().lines().count() == 1, json[1]);
        assertEquals(List.of("1", "\nerror: gradient norm is NaN at step 3; the last checkpoint is kept\n"), List.of(run("diverged")));
        assertEquals(List.of("1", "error: no such file or directory: data/clips\n"), List.of(run("io")));
        assertEquals(List.of("1", "error: reading data/clips/0\n"), List.of(run("unchecked-io")));
    }

    /** File-system failures say what happened to which file (and the other file of a move), whatever their class. */
    @Test
    void aFileSystemFailureNamesWhatHappenedToWhichFile() {
        assertEquals("no such file or directory: a.gif", Main.reason(new NoSuchFileException("a.gif")));
        assertEquals("permission denied: a.gif", Main.reason(new AccessDeniedException("a.gif")));
        assertEquals("already exists: a.gif", Main.reason(new FileAlreadyExistsException("a.gif")));
        assertEquals("Read-only file system: a.tmp -> a.gif", Main.reason(new FileSystemException("a.tmp", "a.gif", "Read-only file system")));
        assertEquals("not a directory: a", Main.reason(new NotDirectoryException("a")));
        assertEquals("directory not empty: out", Main.reason(new DirectoryNotEmptyException("out")));
        assertEquals("FileSystemLoopException: a", Main.reason(new FileSystemLoopException("a")), "a kind without words keeps its name");
    }

    /** Without a command, the usage (exit 0); a mistyped top-level option points at the list of commands. */
    @Test
    void noCommandPrintsTheUsageAndATopLevelTypoPointsAtTheCommands() {
        CliRun r = CliRun.of();
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: puppet-engine ") && r.out().contains("sample-batch"), r.out());
        String said = CliRun.stderrOf(2, "--nope");
        assertTrue(said.startsWith("error: Unknown option: '--nope'") && said.endsWith("(./puppet-engine --help lists the commands)\n"), said);
        assertNull(Main.ran(new CommandLine(new Main())), "nothing parsed");
    }

    /** Every command's --version and -V say the engine's version, as the top level's does (a subcommand's printed nothing). */
    @Test
    void everyCommandSaysTheVersion() {
        String version = CliRun.of("--version").out();
        assertTrue(version.startsWith("puppet-engine "), version);
        for (String[] c : new String[][]{{"sample", "--version"}, {"convert", "-V"}, {"bench", "sample", "--version"}, {"bench", "-V"}}) {
            CliRun r = CliRun.of(c);
            assertEquals(0, r.code(), r.err());
            assertEquals(version, r.out(), String.join(" ", c));
        }
    }

    /** Options that exclude each other are said once as an error, without picocli's own "Error: " after ours. */
    @Test
    void mutuallyExclusiveOptionsAreOneError() {
        String said = CliRun.stderrOf(2, "sample-batch", "--dir", "a", "--dragamove", "b", "--out", "o");
        assertTrue(said.startsWith("error: --dir=<dir>, --dragamove=<dragamove> are mutually exclusive"), said);
    }

    /** A thread that could not start (ulimit -u, a container's pids limit) is that limit, not the heap it has plenty of. */
    @Test
    void aThreadLimitIsNotCalledTheHeap() {
        String[] threads = run("threads");
        assertEquals("1", threads[0]);
        assertEquals("error: could not start a thread: the limit on processes and threads is reached (ulimit -u, or a container's pids limit):"
                + " raise it, or start fewer threads (JAVA_OPTS='-XX:ActiveProcessorCount=1 -XX:MaxRAMPercentage=75' ./puppet-engine ...)", threads[1].strip());
    }

    /** The heap advice names only options the command that ran has (create-model has none of them), not a flag already given. */
    @Test
    void heapAdviceNamesOnlyTheCommandsOwnOptions() {
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try a larger heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)",
                outOfHeap("create-model", "--out", "m"));
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try fewer --frames or a larger heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)",
                outOfHeap("sample", "--image", "a.png", "--drag", "1,1:2,2", "--out", "o.gif"));
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try a smaller --batch-size, --gradient-checkpointing or a larger"
                + " heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)", outOfHeap("train", "--model", "m", "--data", "d", "--out", "o"));
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try fewer --frames, --gradient-checkpointing or a larger"
                + " heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)", outOfHeap("bench", "train"));
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try a smaller --batch-size or a larger heap (JAVA_OPTS=-Xmx2g"
                + " ./puppet-engine ...)", outOfHeap("train", "--model", "m", "--data", "d", "--out", "o", "--gradient-checkpointing"), "a flag given is not advised");
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try a larger heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)",
                outOfHeap("sample-batch", "--dragamove", "dm", "--out", "o"), "--dragamove takes each example's frame count and refuses --frames");
        assertEquals("error: out of Java heap memory (1024 MiB, the JVM's -Xmx): try fewer --frames or a larger heap (JAVA_OPTS=-Xmx2g ./puppet-engine ...)",
                outOfHeap("sample-batch", "--dir", "d", "--out", "o"));
    }

    /** The heap advised is twice the one that ran out, within 9/10 of the machine's memory; where no larger one fits, a larger machine. */
    @Test
    void heapAdviceFitsTheMachine() {
        assertTrue(Main.heapExhausted(12_000L << 20, 64L << 30, null).endsWith("try a larger heap (JAVA_OPTS=-Xmx24g ./puppet-engine ...)"));
        assertTrue(Main.heapExhausted(12L << 30, 16L << 30, null).endsWith("try a larger heap (JAVA_OPTS=-Xmx14g ./puppet-engine ...)"));
        assertEquals("out of Java heap memory (14336 MiB, the JVM's -Xmx): try a machine with more memory than this one's 16 GiB",
                Main.heapExhausted(14L << 30, 16L << 30, null));
        assertTrue(Main.machineMemory() > 0);
    }

    /** What the engine prints when {@code args}' command runs out of heap (its arguments parsed, the command itself not run). */
    private static String outOfHeap(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.parseArgs(args);
        return "error: " + Main.heapExhausted(1L << 30, 64L << 30, Main.ran(cl));
    }

    /** An exception without a message (a bare EOFException) is named by its kind, never as "null". */
    /** A mistyped required option is named, with the option meant, not only the required one it left missing. */
    @Test
    void aMistypedRequiredOptionIsNamedNotOnlyTheOneMissing() {
        String said = CliRun.stderrOf(2, "sample", "--imagee", "a.png", "--out", "x.gif");
        assertTrue(said.startsWith("error: Unknown options: '--imagee', 'a.png'\nPossible solutions: --image\n"), said);
        assertTrue(said.contains("(./puppet-engine sample --help lists the options)"), said);
        // with nothing mistyped, the missing option is what is said
        said = CliRun.stderrOf(2, "sample", "--out", "x.gif");
        assertTrue(said.startsWith("error: Missing required option: '--image=<image>'"), said);
    }

    @Test
    void anExceptionWithoutAMessageIsNamedByItsKind() {
        assertEquals("EOFException", Main.message(new EOFException()));
        assertEquals("EOFException", Main.reason(new EOFException()));
        assertEquals("UserError", Main.message(new UserError(" ")));
        assertEquals("end of file", Main.message(new EOFException("end of file")));
        assertEquals("EOFException: end of file", Main.reason(new EOFException("end of file")));
        assertEquals("writing out.gif: No space left on device", Main.reason(new IOException("writing out.gif: No space left on device")));
    }
}
