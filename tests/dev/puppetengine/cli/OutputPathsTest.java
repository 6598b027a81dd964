package dev.puppetengine.cli;

import dev.puppetengine.testing.CliRun;
import dev.puppetengine.testing.ProcDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OutputPaths' checks on their own; the commands' tests show them in place (SampleCommandTest, EvalCommandTest, ...). */
class OutputPathsTest {
    @TempDir
    Path dir;

    @Test
    void aFileOutputIsRefusedWhereItCannotBeWritten() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("clip.gif")), aFile = Files.writeString(dir.resolve("notes"), "x");
        assertEquals("--out " + sub + " is a directory; give a file name", refusal(() -> OutputPaths.file("--out", sub)));
        assertEquals("--out " + aFile.resolve("a/o.gif") + ": " + aFile + " is a file, not a directory",
                refusal(() -> OutputPaths.file("--out", aFile.resolve("a/o.gif"))));
        String proc = refusal(() -> OutputPaths.file("--out", Path.of("/proc/o.gif")));
        assertTrue(proc.startsWith("--out /proc/o.gif: " + ProcDir.refusal()), proc);
        // missing folders are made later: the nearest existing one is checked, and the check leaves nothing behind
        OutputPaths.file("--out", dir.resolve("a/b/o.gif"));
        assertEquals(List.of(sub, aFile), listing(dir));
    }

    @Test
    void aDirectoryOutputIsRefusedWhereItCannotBeWrittenOrWouldReplaceFiles() throws IOException {
        Path aFile = Files.writeString(dir.resolve("frames"), "x");
        assertEquals("--out " + aFile + " is a file; a directory is needed here", refusal(() -> OutputPaths.directory("--out", aFile, true)));
        String proc = refusal(() -> OutputPaths.directory("--out", Path.of("/proc/frames"), false));
        assertTrue(proc.startsWith("--out /proc/frames: " + ProcDir.refusal()), proc);
        Path frames = Files.createDirectory(dir.resolve("old"));
        Files.write(frames.resolve("frame_000.png"), new byte[1]);
        OutputPaths.directory("--out", frames, true);   // only frames: replaced whole
        Files.writeString(frames.resolve("notes.txt"), "mine");
        assertEquals("--out " + frames + " holds files other than PNG frames (frame_NNN.png), which it would replace; remove them or choose another",
                refusal(() -> OutputPaths.directory("--out", frames, true)));
        OutputPaths.directory("--out", frames, false);   // written into, not replaced
        OutputPaths.directory("--out", dir.resolve("new/deeper"), true);
        assertEquals(List.of(aFile, frames), listing(dir));
        // frames replace their directory whole: never the one the command runs in, nor one above it (the tests run in the checkout)
        for (Path here : new Path[]{Path.of("./"), Path.of("."), Path.of("src/.."), Path.of("").toAbsolutePath().getParent()})
            assertTrue(refusal(() -> OutputPaths.directory("--out", here, true)).startsWith("--out " + here
                    + " is or holds the working directory, which the frames would replace whole; name a directory for them (e.g. frames/)"), here.toString());
        OutputPaths.directory("--out", Path.of("src"), false);   // written into, not replaced: the working directory's folders are as good as any
    }

    /** An empty path (--out "") is refused as such, not taken for the working directory. */
    @Test
    void anEmptyPathIsRefused() {
        assertEquals("--out is empty; give a path", refusal(() -> OutputPaths.file("--out", Path.of(""))));
        assertEquals("--json is empty; give a path", refusal(() -> OutputPaths.directory("--json", Path.of(""), false)));
    }

    /** Leftovers of cut-short writes of this output (its name, ".tmp-", anything) are counted and sized, files and folders; others' are not. */
    @Test
    void leftoversBesideTheOutputAreNoted() throws IOException {
        Path out = dir.resolve("m.gif");
        Files.write(dir.resolve("m.gif.tmp-1a"), new byte[1 << 20]);
        Files.write(Files.createDirectory(dir.resolve("m.gif.tmp-2b")).resolve("part"), new byte[1 << 19]);
        Files.write(dir.resolve("other.gif.tmp-3c"), new byte[10]);
        Files.write(dir.resolve("m.gif.tmp"), new byte[10]);
        assertEquals("note: beside " + out + ": 2 leftovers of writes cut short (a kill or crash), 1.5 MiB: m.gif.tmp-1a, m.gif.tmp-2b;"
                + " remove them unless another run is writing there now\n", CliRun.stderrDuring(() -> OutputPaths.file("--out", out)));
        Path frames = dir.resolve("other.gif");
        assertEquals("note: beside " + frames + ": 1 leftover of writes cut short (a kill or crash), 0.0 MiB: other.gif.tmp-3c;"
                + " remove it unless another run is writing there now\n", CliRun.stderrDuring(() -> OutputPaths.directory("--out", frames, true)));
        assertEquals("", CliRun.stderrDuring(() -> OutputPaths.file("--out", dir.resolve("n.gif"))));
        assertEquals("", CliRun.stderrDuring(() -> OutputPaths.file("--out", dir.resolve("new/m.gif"))));
    }

    /** Through a symbolic link the write, and so its leftovers, are beside what the link names; a folder's own are any name with ".tmp-". */
    @Test
    void leftoversAreLookedForWhereWritesPutThem() throws IOException {
        Path elsewhere = Files.createDirectory(dir.resolve("elsewhere")), link = Files.createSymbolicLink(dir.resolve("link.gif"), elsewhere.resolve("real.gif"));
        Files.write(elsewhere.resolve("real.gif.tmp-9"), new byte[0]);
        assertEquals("note: beside " + link + ": 1 leftover of writes cut short (a kill or crash), 0.0 MiB: real.gif.tmp-9;"
                + " remove it unless another run is writing there now\n", CliRun.stderrDuring(() -> OutputPaths.file("--out", link)));
        Files.write(elsewhere.resolve("a.gif.tmp-7"), new byte[0]);
        assertEquals("note: in " + elsewhere + ": 2 leftovers of writes cut short (a kill or crash), 0.0 MiB: a.gif.tmp-7, real.gif.tmp-9;"
                + " remove them unless another run is writing there now\n", CliRun.stderrDuring(() -> OutputPaths.noteLeftoversIn(elsewhere)));
    }

    @Test
    void anOutputIsNotTheInputHoweverSpelled() throws IOException {
        Path in = Files.writeString(dir.resolve("in.png"), "x"), folder = Files.createDirectory(dir.resolve("clips"));
        assertEquals("--out " + dir.resolve("clips/../in.png") + " is the input --image " + in + ": writing it would replace the input; choose another --out",
                refusal(() -> OutputPaths.notInput("--out", dir.resolve("clips/../in.png"), "--image", in, false)));
        Path hard = Files.createLink(dir.resolve("hard.png"), in), soft = Files.createSymbolicLink(dir.resolve("soft"), folder);
        assertEquals("--out " + hard + " is the input --image " + in + ": writing it would replace the input; choose another --out",
                refusal(() -> OutputPaths.notInput("--out", hard, "--image", in, false)));
        Path inside = soft.resolve("new/o.gif");
        assertEquals("--out " + inside + " is inside the input --clips " + folder + ": it could replace a file the command reads; choose a path outside it",
                refusal(() -> OutputPaths.notInput("--out", inside, "--clips", folder, true)));
        assertEquals("--out " + dir + " contains the input --clips " + soft + ": replacing it would delete the input; choose another --out",
                refusal(() -> OutputPaths.notInput("--out", dir, "--clips", soft, true)));
        OutputPaths.notInput("--out", inside, "--clips", folder, false);   // not nested: only the same place is refused
        OutputPaths.notInput("--out", dir, "--clips", folder, false);
        OutputPaths.notInput("--out", dir.resolve("clips2"), "--clips", folder, true);   // a sibling that starts with the same letters
    }

    private static String refusal(Executable check) {
        return assertThrows(UserError.class, check).getMessage();
    }

    private static List<Path> listing(Path d) throws IOException {
        try (var files = Files.list(d)) {
            return files.sorted().toList();
        }
    }
}
