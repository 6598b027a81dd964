package dev.puppetengine.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.sun.management.OperatingSystemMXBean;
import dev.puppetengine.backend.cuda.CudaOutOfMemoryError;
import dev.puppetengine.convert.ConvertCommand;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.train.Adam;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Entry point of ./puppet-engine: dispatches to the subcommands; exit code 2 for bad input. */
@Command(name = "puppet-engine", mixinStandardHelpOptions = true, version = "puppet-engine 0.1.0",
        description = "Samples and fine-tunes Puppet-Master (drag-conditioned image-to-video diffusion) in Java.",
        subcommands = {SampleCommand.class, SampleBatchCommand.class, EvalCommand.class, DescribeCommand.class, CreateModelCommand.class,
                ConvertCommand.class, DatasetCommand.class, TrainVaeCommand.class, FitImageEncoderCommand.class, PrepareCommand.class,
                TrainCommand.class, PlotCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        System.exit(stdoutWritten(run(args)));
    }

    /**
     * {@code rc}, or 1 where standard output could not all be written (PrintStream keeps only that a write failed): a full
     * disk under "> report.txt" cut the output short. A pipe or socket whose reader left (| head -1) is no error.
     */
    static int stdoutWritten(int rc) {
        if (!System.out.checkError()) return rc;
        String to;   // where it leads
        try {
            to = Files.readSymbolicLink(Path.of("/proc/self/fd/1")).toString();
        } catch (NoSuchFileException e) {   // >&-
            to = "closed";
        } catch (IOException | UnsupportedOperationException e) {   // no /proc (not Linux): said without the place
            to = null;
        }
        if (to != null && (to.startsWith("pipe:") || to.startsWith("socket:"))) return rc;
        System.err.println("error: could not write all of the standard output" + (to == null ? "" : " (" + to + ")") + (to != null && to.startsWith("/") ? ": is the disk full?" : ""));
        return rc == 0 ? 1 : rc;
    }

    /** Runs a command line and returns its exit code (tests call this). */
    public static int run(String... args) {
        return execute(new CommandLine(new Main()), args);
    }

    /** Runs {@code cl} with the engine's error reporting: one line and exit 2 for bad input, 1 for the environment. */
    static int execute(CommandLine cl, String... args) {
        versionEverywhere(cl, cl.getCommandSpec().version());
        // a mistyped option: what is wrong and where the help is, not the whole usage (which buries the message)
        cl.setParameterExceptionHandler((thrown, given) -> {
            CommandLine c = thrown.getCommandLine();
            // a mistyped required option (--imagee) leaves it missing, and picocli reports the missing one: the typo is the news
            CommandLine.ParameterException ex = thrown instanceof CommandLine.MissingParameterException && !c.getUnmatchedArguments().isEmpty()
                    ? new CommandLine.UnmatchedArgumentException(c, c.getUnmatchedArguments()) : thrown;
            c.getErr().println("error: " + ex.getMessage().replaceFirst("^Error: ", ""));   // picocli's own prefix on some (mutually exclusive options)
            if (ex instanceof CommandLine.UnmatchedArgumentException u) CommandLine.UnmatchedArgumentException.printSuggestions(u, c.getErr());
            String sub = c.getCommandSpec().qualifiedName().replaceFirst("^\\S+", "").strip();
            c.getErr().println("(./puppet-engine " + (sub.isEmpty() ? "" : sub + " ") + "--help lists the " + (sub.isEmpty() ? "commands" : "options") + ")");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
            if (StopNote.unwinding(ex)) return 130;   // a signal's stop: its note is said; the JVM exits with the signal's code
            // bad input, including a malformed input file (the message names the file), not the environment
            if (ex instanceof UserError || ex instanceof IllegalArgumentException || ex instanceof InputFileException
                    || ex instanceof CheckpointException) {
                cmd.getErr().println("error: " + message(ex));
                return 2;
            }
            if (ex instanceof JacksonException j) {   // no multi-line source excerpt
                cmd.getErr().println("error: invalid JSON: " + Json.oneLine(j));
                return 2;
            }
            if (ex instanceof Adam.NonFiniteException) {   // a diverged run, not a bug: its message says what was kept
                cmd.getErr().println();
                cmd.getErr().println("error: " + message(ex));
                return 1;
            }
            if (ex instanceof EnvironmentError || ex instanceof CudaOutOfMemoryError) {   // its message says how much and what to try
                cmd.getErr().println("error: " + message(ex));
                return 1;
            }
            if (ex instanceof UncheckedIOException u) ex = new IOException(u.getMessage(), u.getCause());
            if (ex instanceof IOException io) {          // the environment, not a bug: one line, no stack trace
                cmd.getErr().println("error: " + reason(io));
                return 1;
            }
            throw ex;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {   // picocli hands errors on: the Java heap, said in one line like the GPU's
            // the JVM reports a thread it could not start (a process limit, not memory) as an OutOfMemoryError too
            cl.getErr().println("error: " + (String.valueOf(e.getMessage()).contains("unable to create native thread") ? THREADS_EXHAUSTED
                    : heapExhausted(Runtime.getRuntime().maxMemory(), machineMemory(), ran(cl))));
            return 1;
        }
    }

    /** Every command's --version says the engine's (picocli gives a subcommand none of its parent's: it printed nothing). */
    private static void versionEverywhere(CommandLine c, String[] version) {
        c.getCommandSpec().version(version);
        c.getSubcommands().values().forEach(sub -> versionEverywhere(sub, version));
    }

    /** ActiveProcessorCount sizes the JVM's own threads and the CPU backend's pool; the heap option keeps the launcher's default. */
    static final String THREADS_EXHAUSTED = "could not start a thread: the limit on processes and threads is reached (ulimit -u, or a container's"
            + " pids limit): raise it, or start fewer threads (JAVA_OPTS='-XX:ActiveProcessorCount=1 -XX:MaxRAMPercentage=75' ./puppet-engine ...)";

    /**
     * The advice names only what the command that ran ({@code ran}) can still change: its own options (create-model and
     * convert have none of these), a flag not already given.
     */
    static String heapExhausted(long maxHeapBytes, long machineBytes, CommandLine.ParseResult ran) {
        List<String> tries = new ArrayList<>();
        String[][] advice = {{"--frames", "fewer --frames"}, {"--batch-size", "a smaller --batch-size"}, {"--gradient-checkpointing", "--gradient-checkpointing"}};
        for (String[] a : advice)   // where the advice is the option itself (a flag), not once it is given
            if (ran != null && ran.commandSpec().findOption(a[0]) != null && !(a[0].equals(a[1]) && ran.hasMatchedOption(a[0]))
                    && !(a[0].equals("--frames") && ran.hasMatchedOption("--dragamove")))   // sample-batch --dragamove refuses --frames
                tries.add(a[1]);
        // twice this heap, but within 9/10 of the machine's memory (beyond, the system would swap or kill the JVM)
        long heapGiB = (maxHeapBytes + (1L << 30) - 1) >> 30, larger = Math.min(Math.max(2, 2 * heapGiB), machineBytes / 10 * 9 >> 30);
        tries.add(larger > heapGiB ? "a larger heap (JAVA_OPTS=-Xmx" + larger + "g ./puppet-engine ...)"
                : "a machine with more memory than this one's " + (machineBytes >> 30) + " GiB");
        String last = tries.remove(tries.size() - 1);
        return String.format(Locale.ROOT, "out of Java heap memory (%d MiB, the JVM's -Xmx): try %s", maxHeapBytes >> 20,
                tries.isEmpty() ? last : String.join(", ", tries) + " or " + last);
    }

    /** The memory of this machine, or of its container where it has a limit. */
    static long machineMemory() {
        return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }

    /** The parse of the (sub)command that {@code cl} ran; null when its arguments were not parsed. */
    static CommandLine.ParseResult ran(CommandLine cl) {
        CommandLine.ParseResult r = cl.getParseResult();
        if (r == null) return null;
        while (r.hasSubcommand()) r = r.subcommand();
        return r;
    }

    /** An I/O failure in words: file-system errors as what happened to which file, others as their message. */
    static String reason(IOException e) {
        if (e instanceof NoSuchFileException f) return "no such file or directory: " + f.getFile();
        if (e instanceof AccessDeniedException f) return "permission denied: " + f.getFile();
        if (e instanceof FileAlreadyExistsException f) return "already exists: " + f.getFile();
        if (e instanceof NotDirectoryException f) return "not a directory: " + f.getFile();
        if (e instanceof DirectoryNotEmptyException f) return "directory not empty: " + f.getFile();
        if (e instanceof FileSystemException f)
            return (f.getReason() != null ? f.getReason() : e.getClass().getSimpleName()) + ": " + f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "");
        return e.getClass() == IOException.class ? message(e) : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /** An exception's message for the user, or its kind where it has none (a bare EOFException, say): never "null". */
    static String message(Throwable e) {
        return e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
