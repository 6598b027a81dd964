package dev.puppetengine.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;
import javax.imageio.IIOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicFileTest {
    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesAndReplacesWithoutLeavingTempFiles() throws IOException {
        Path f = dir.resolve("a.txt");
        AtomicFile.writeString(f, "first");
        AtomicFile.writeBytes(f, "second".getBytes());
        assertEquals("second", Files.readString(f));
        assertEquals(List.of("a.txt"), listing());
    }

    @Test
    void failureKeepsThePreviousFileAndRemovesTheTemp() throws IOException {
        Path f = dir.resolve("model.bin");
        AtomicFile.writeString(f, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.write(f, ch -> {
            AtomicFile.writeFully(ch, ByteBuffer.wrap("partial new content".getBytes()));
            throw new IOException("No space left on device");
        }));
        assertEquals("writing " + f + ": No space left on device", e.getMessage(), "the failure names the file (main: one line saying where)");
        IOException viaPath = assertThrows(IOException.class, () -> AtomicFile.writePath(f, tmp -> { throw new IOException("No space left on device"); }));
        assertEquals("writing " + f + ": No space left on device", viaPath.getMessage());
        assertEquals("old", Files.readString(f));
        assertEquals(List.of("model.bin"), listing());
    }

    /**
     * An encoder that words the failure its own way (ImageIO's GIF writer: "I/O error writing header!", the disk's
     * reason only in the cause) keeps the reason: a full disk says so.
     */
    @Test
    void anEncodersOwnWordsKeepTheReasonUnderThem() throws IOException {
        Path f = dir.resolve("out.gif");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.writePath(f, tmp -> {
            throw new IIOException("I/O error writing header!", new IOException("No space left on device"));
        }));
        assertEquals("writing " + f + ": I/O error writing header! (No space left on device)", e.getMessage());
        assertEquals(List.of(), listing());
    }

    /** An input found bad while writing (convert reading a damaged tensor) stays an InputFileException naming the input, not a write failure. */
    @Test
    void aBadInputFoundWhileWritingIsPassedOn() throws IOException {
        Path f = dir.resolve("model.bin"), input = dir.resolve("in.safetensors");
        InputFileException bad = new InputFileException(input + ": tensor w is not finite");
        assertSame(bad, assertThrows(InputFileException.class, () -> AtomicFile.write(f, ch -> { throw bad; })));
        assertEquals(List.of(), listing());
    }

    @Test
    void failedFirstWriteLeavesNothing() throws IOException {
        Path f = dir.resolve("new.bin");
        assertThrows(IllegalStateException.class, () -> AtomicFile.write(f, ch -> { throw new IllegalStateException("boom"); }));
        assertFalse(Files.exists(f));
        assertEquals(List.of(), listing());
    }

    @Test
    void publishesADirectoryAtomically() throws IOException {
        Path out = dir.resolve("ckpt-100");
        AtomicFile.publishDirectory(out, tmp -> {
            assertTrue(tmp.getFileName().toString().startsWith("ckpt-100.tmp-"), tmp.toString());
            assertFalse(Files.exists(out), "final name must not appear before the body finishes");
            AtomicFile.writeString(tmp.resolve("config.json"), "{}");
            Files.createDirectory(tmp.resolve("unet"));
            AtomicFile.writeString(tmp.resolve("unet").resolve("w.txt"), "w");
        });
        assertEquals("{}", Files.readString(out.resolve("config.json")));
        assertEquals("w", Files.readString(out.resolve("unet/w.txt")));
        assertEquals(List.of("ckpt-100"), listing());
    }

    @Test
    void failedDirectoryPublishRemovesEverything() throws IOException {
        Path out = dir.resolve("converted");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.publishDirectory(out, tmp -> {
            Files.createDirectory(tmp.resolve("sub"));
            AtomicFile.writeString(tmp.resolve("sub").resolve("half.bin"), "x");
            throw new IOException("No space left on device");   // Files.write's, which names no file
        }));
        assertEquals("writing " + out + ": No space left on device", e.getMessage());
        assertEquals(List.of(), listing());
        // an unchecked failure (a bug, an interrupt's error) removes the temporary directory too, and is passed on as it is
        IllegalStateException bug = new IllegalStateException("bug");
        assertSame(bug, assertThrows(IllegalStateException.class, () -> AtomicFile.publishDirectory(out, tmp -> {
            AtomicFile.writeString(tmp.resolve("half.bin"), "x");
            throw bug;
        })));
        assertEquals(List.of(), listing());
    }

    /**
     * A file of a directory being published that cannot be written is named where it was going, not in the temporary
     * directory, which is gone by then (convert's "writing /out/model.tmp-b3769f7d42b9/unet.safetensors" on a full disk).
     */
    @Test
    void aFailedFileInAPublishedDirectoryIsNamedWhereItWasGoing() throws IOException {
        Path out = dir.resolve("model");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.publishDirectory(out, tmp ->
                AtomicFile.writePath(tmp.resolve("unet.safetensors"), f -> { throw new IOException("No space left on device"); })));
        assertEquals("writing " + out.resolve("unet.safetensors") + ": No space left on device", e.getMessage());
        FileSystemException full = assertThrows(FileSystemException.class, () -> AtomicFile.replaceDirectory(out, tmp -> {
            throw new FileSystemException(tmp.resolve("vae.safetensors").toString(), null, "No space left on device");
        }));
        assertEquals(out.resolve("vae.safetensors").toString(), full.getFile());
        assertEquals("No space left on device", full.getReason());
        AccessDeniedException denied = new AccessDeniedException("/elsewhere");
        assertSame(denied, assertThrows(IOException.class, () -> AtomicFile.publishDirectory(out, tmp -> { throw denied; })));
        assertEquals(List.of(), listing());
    }

    /** A replace that fails names the directory replaced, not the fresh copy beside it, and keeps the old one. */
    @Test
    void failedDirectoryReplaceNamesTheTarget() throws IOException {
        Path out = Files.createDirectory(dir.resolve("frames"));
        Files.writeString(out.resolve("old.png"), "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.replaceDirectory(out, tmp -> {
            throw new IOException("No space left on device");
        }));
        assertEquals("writing " + out + ": No space left on device", e.getMessage());
        assertEquals(List.of("frames"), listing());
        assertEquals("old", Files.readString(out.resolve("old.png")));
    }

    /** --force on a mistyped path: only an empty directory or one the caller recognises as its own output is replaced. */
    @Test
    void replacesOnlyAnEmptyDirectoryOrOneOfItsKind() throws IOException {
        Path absent = dir.resolve("absent"), empty = Files.createDirectory(dir.resolve("empty")), mine = Files.createDirectory(dir.resolve("mine"));
        Path notes = Files.createDirectory(dir.resolve("notes"));
        Files.writeString(mine.resolve("marker"), "x");
        Files.writeString(notes.resolve("notes.txt"), "precious");
        Predicate<Path> ours = d -> Files.exists(d.resolve("marker"));
        AtomicFile.checkReplaceable(absent, false, "a thing", ours);
        InputFileException noForce = assertThrows(InputFileException.class, () -> AtomicFile.checkReplaceable(empty, false, "a thing", ours));
        assertEquals(empty + " already exists (use --force to replace it)", noForce.getMessage());
        AtomicFile.checkReplaceable(empty, true, "a thing", ours);
        AtomicFile.checkReplaceable(mine, true, "a thing", ours);
        for (boolean force : new boolean[]{true, false}) {   // without --force too: advice to use it would only be refused next
            InputFileException other = assertThrows(InputFileException.class, () -> AtomicFile.checkReplaceable(notes, force, "a thing (no marker)", ours));
            assertEquals(notes + " is not a thing (no marker) and not empty: refusing to delete it; choose another --out", other.getMessage());
        }
        // the working directory (the checkout the tests run in), however named, is never replaced, even where it would qualify
        for (Path here : new Path[]{Path.of("."), Path.of("src/.."), Path.of("").toAbsolutePath()}) {
            assertTrue(AtomicFile.holdsWorkingDirectory(here), here.toString());
            assertEquals(here + " is or holds the working directory, which replacing it would delete; choose another --out",
                    assertThrows(InputFileException.class, () -> AtomicFile.checkReplaceable(here, true, "a thing", d -> true)).getMessage());
        }
        assertTrue(AtomicFile.holdsWorkingDirectory(Path.of("").toAbsolutePath().getParent()));
        assertFalse(AtomicFile.holdsWorkingDirectory(mine));
        assertFalse(AtomicFile.holdsWorkingDirectory(Path.of("src")));
        assertFalse(AtomicFile.holdsWorkingDirectory(dir.resolve("absent")));
        FileSystemException swap = assertThrows(FileSystemException.class, () -> AtomicFile.replaceDirectory(Path.of("."), d -> {}));
        assertEquals(".: is or holds the working directory: not replaced", swap.getMessage());
    }

    /** A file's missing parent folders are made (a --json or --out in a folder not there yet), as a directory's are. */
    @Test
    void writingMakesMissingParentFolders() throws IOException {
        Path deep = dir.resolve("a/b/report.json");
        AtomicFile.writeString(deep, "{}");
        assertEquals("{}", Files.readString(deep));
        assertEquals(List.of(deep.getFileName()), Files.list(deep.getParent()).map(Path::getFileName).toList());
    }

    /** Replacing publishes beside the target under fresh names: siblings called like the old fixed ones (.old, .replacement) are left alone. */
    @Test
    void replacingADirectoryLeavesItsSiblingsAlone() throws IOException {
        Path out = Files.createDirectory(dir.resolve("model"));
        Files.writeString(out.resolve("old.txt"), "old");
        for (String sibling : new String[]{"model.old", "model.replacement"}) {
            Files.createDirectory(dir.resolve(sibling));
            Files.writeString(dir.resolve(sibling).resolve("notes.txt"), "precious");
        }
        AtomicFile.replaceDirectory(out, tmp -> AtomicFile.writeString(tmp.resolve("new.txt"), "new"));
        assertEquals("new", Files.readString(out.resolve("new.txt")));
        assertFalse(Files.exists(out.resolve("old.txt")));
        assertEquals(List.of("model", "model.old", "model.replacement"), listing());
        assertEquals("precious", Files.readString(dir.resolve("model.old/notes.txt")));
        assertEquals("precious", Files.readString(dir.resolve("model.replacement/notes.txt")));
    }

    /**
     * A replace killed between its two renames leaves the name absent, the old copy and the complete new one beside it:
     * the new one is found by its role in its name, not a copy still being filled (a further .tmp- suffix) nor the old one.
     */
    @Test
    void aReplaceCutShortLeavesItsNewCopyToFind() throws IOException {
        Path out = Files.createDirectory(dir.resolve("model"));
        List<String> filling = new ArrayList<>();
        AtomicFile.replaceDirectory(out, tmp -> filling.add(tmp.getFileName().toString()));
        assertTrue(filling.get(0).matches("model\\.tmp-new-[0-9a-f]+\\.tmp-[0-9a-f]+"), "the new copy is filled under its final name + .tmp-: " + filling);
        assertNull(AtomicFile.cutShortReplacement(out), "the target is there");
        Files.delete(out);
        assertNull(AtomicFile.cutShortReplacement(out));
        for (String left : new String[]{"model.tmp-old-2e", "model.tmp-new-1f.tmp-3a", "model.tmp-new-", "model.tmp-4b", "other.tmp-new-5c"})
            Files.createDirectory(dir.resolve(left));
        assertNull(AtomicFile.cutShortReplacement(out), "no complete new copy of model");
        Files.createDirectory(dir.resolve("model.tmp-new-1f"));
        assertEquals(dir.resolve("model.tmp-new-1f"), AtomicFile.cutShortReplacement(out));
        // where the parent directory itself is gone there is no cut-short copy to find (not a NoSuchFileException)
        assertNull(AtomicFile.cutShortReplacement(dir.resolve("gone").resolve("model")));
    }

    /** A replacement through a symbolic link is cut short beside what the link names: found from the link too. */
    @Test
    void cutShortReplacementThroughALink() throws IOException {
        Files.createDirectory(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("model"), Path.of("real/model"));
        Files.createDirectory(dir.resolve("real/model.tmp-new-1f"));
        assertEquals(dir.resolve("real/model.tmp-new-1f"), AtomicFile.cutShortReplacement(link));
    }

    /** Writing through a symbolic link writes what it names, a file or a directory (a dangling link's too): the link stays. */
    @Test
    void writesGoThroughSymbolicLinks() throws IOException {
        Path real = Files.createDirectory(dir.resolve("real")), file = Files.writeString(real.resolve("a.gif"), "old");
        Path fileLink = Files.createSymbolicLink(dir.resolve("a.gif"), Path.of("real/a.gif"));
        Path chain = Files.createSymbolicLink(dir.resolve("chain.gif"), Path.of("a.gif"));
        AtomicFile.writeString(chain, "new");
        assertTrue(Files.isSymbolicLink(fileLink) && Files.isSymbolicLink(chain));
        assertEquals("new", Files.readString(file));
        Path dangling = Files.createSymbolicLink(dir.resolve("b.gif"), Path.of("real/b.gif"));
        AtomicFile.writeString(dangling, "made");
        assertEquals("made", Files.readString(real.resolve("b.gif")));

        Path frames = Files.createDirectory(real.resolve("frames"));
        Files.writeString(frames.resolve("frame_000.png"), "old");
        Path dirLink = Files.createSymbolicLink(dir.resolve("frames"), Path.of("real/frames"));
        AtomicFile.replaceDirectory(dirLink, tmp -> AtomicFile.writeString(tmp.resolve("frame_001.png"), "new"));
        assertTrue(Files.isSymbolicLink(dirLink));
        try (Stream<Path> left = Files.list(frames)) {
            assertEquals(List.of("frame_001.png"), left.map(p -> p.getFileName().toString()).toList());
        }
        Path loop = Files.createSymbolicLink(dir.resolve("loop"), Path.of("loop"));
        assertThrows(FileSystemException.class, () -> AtomicFile.writeString(loop, "x"));
    }

    /** A failure that already names the file, or a file-system error (which names its file), is passed on unchanged. */
    @Test
    void failuresThatNameTheFileAreNotWrappedAgain() throws IOException {
        Path f = dir.resolve("out.bin");
        IOException named = new IOException("cannot encode " + f + ": bad pixel");
        assertSame(named, assertThrows(IOException.class, () -> AtomicFile.writePath(f, tmp -> { throw named; })));
        AccessDeniedException denied = new AccessDeniedException("/elsewhere");
        assertSame(denied, assertThrows(IOException.class, () -> AtomicFile.writePath(f, tmp -> { throw denied; })));
        assertEquals(List.of(), listing());
        IllegalArgumentException root = assertThrows(IllegalArgumentException.class, () -> AtomicFile.writeString(dir.getRoot(), "x"));
        assertEquals("no parent directory for " + dir.getRoot(), root.getMessage());
    }

    /** Replacing a directory that is not there yet simply publishes it. */
    @Test
    void replacingAMissingDirectoryCreatesIt() throws IOException {
        Path out = dir.resolve("fresh");
        AtomicFile.replaceDirectory(out, tmp -> AtomicFile.writeString(tmp.resolve("a.txt"), "a"));
        assertEquals("a", Files.readString(out.resolve("a.txt")));
        assertEquals(List.of("fresh"), listing());
    }

    /** rename replaces a file at the target, within a folder and across folders. */
    @Test
    void renameMovesAndReplaces() throws IOException {
        Path work = Files.createDirectory(dir.resolve("work"));
        Path a = Files.writeString(work.resolve("a.part"), "new"), target = Files.writeString(dir.resolve("a"), "old");
        AtomicFile.rename(a, target);
        assertEquals("new", Files.readString(target));
        assertFalse(Files.exists(a));
        Path b = Files.writeString(work.resolve("b"), "b");
        AtomicFile.rename(b, work.resolve("c"));
        assertEquals("b", Files.readString(work.resolve("c")));
        assertEquals(List.of("a", "work"), listing());
    }

    /**
     * An interrupt that comes once the rename is done (the file written and published) leaves the write reported as
     * done, and the interrupt set for the caller: the directory's fsync does not fail on it as if nothing were written.
     */
    @Test
    void anInterruptAfterTheRenameIsKeptNotAFailure() throws IOException {
        Path f = dir.resolve("a.txt"), moved = dir.resolve("b.txt");
        try {
            AtomicFile.writePath(f, tmp -> Files.writeString(tmp, "done"), () -> Thread.currentThread().interrupt());
            assertTrue(Thread.interrupted(), "the interrupt is kept");
            assertEquals("done", Files.readString(f));
            assertEquals(List.of("a.txt"), listing());
            Thread.currentThread().interrupt();   // rename moves before its fsyncs: the move does not look at the interrupt
            AtomicFile.rename(f, moved);
            assertTrue(Thread.interrupted(), "the interrupt is kept");
            assertEquals(List.of("b.txt"), listing());
        } finally {
            Thread.interrupted();   // never leave the test's thread interrupted
        }
    }

    /** removeDirectory takes a whole tree; removeLeftovers takes exactly the *.tmp-* files and folders and counts them. */
    @Test
    void removesDirectoriesAndLeftovers() throws IOException {
        Path tree = Files.createDirectories(dir.resolve("step-1/sub"));
        Files.writeString(tree.resolve("w.bin"), "w");
        Files.writeString(dir.resolve("step-1/state.json"), "{}");
        AtomicFile.removeDirectory(dir.resolve("step-1"));
        assertEquals(List.of(), listing());

        Files.writeString(dir.resolve("log.jsonl.tmp-1eaf"), "half");
        Files.createDirectories(dir.resolve("step-2.tmp-5eed/unet"));
        Files.writeString(dir.resolve("step-2.tmp-5eed/unet/w.bin"), "w");
        Files.writeString(dir.resolve("keep.txt"), "keep");
        Files.writeString(dir.resolve("tmp-not-a-leftover"), "keep");
        assertEquals(2, AtomicFile.removeLeftovers(dir));
        assertEquals(List.of("keep.txt", "tmp-not-a-leftover"), listing());
        assertEquals(0, AtomicFile.removeLeftovers(dir));
        assertEquals(0, AtomicFile.removeLeftovers(dir.resolve("absent")));
    }

    @Test
    void refusesToReplaceAnExistingDirectory() throws IOException {
        Path out = Files.createDirectory(dir.resolve("exists"));
        assertThrows(FileAlreadyExistsException.class, () -> AtomicFile.publishDirectory(out, tmp -> {}));
        assertEquals(List.of("exists"), listing());
    }
}
