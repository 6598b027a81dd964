package dev.puppetengine.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReplacesLeavingNoTemporary() throws IOException {
        Path file = dir.resolve("sub/out.txt");
        AtomicFiles.write(file, temp -> Files.writeString(temp, "first"));
        AtomicFiles.write(file, temp -> Files.writeString(temp, "second"));
        assertEquals("second", Files.readString(file));
        assertEquals(List.of(file), list(file.getParent()));
    }

    @Test
    void failedWriteKeepsThePreviousFileAndRemovesTheTemporary() throws IOException {
        Path file = dir.resolve("out.txt");
        Files.writeString(file, "previous");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(file, temp -> {
            Files.writeString(temp, "half-writ");
            throw new IOException("disk full");
        }));
        assertEquals("disk full", e.getMessage());
        assertEquals("previous", Files.readString(file));
        assertEquals(List.of(file), list(dir));
    }

    @Test
    void failedNewFileLeavesNothing() throws IOException {
        Path file = dir.resolve("new.txt");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(file, temp -> {
            Files.writeString(temp, "partial");
            throw new IllegalStateException("encoder bug");
        }));
        assertEquals(List.of(), list(dir));
    }

    @Test
    void directoryAppearsWhole() throws IOException {
        Path out = dir.resolve("frames");
        AtomicFiles.writeDirectory(out, temp -> {
            Files.writeString(temp.resolve("a"), "1");
            Files.writeString(temp.resolve("b"), "2");
        });
        assertEquals(List.of(out.resolve("a"), out.resolve("b")), list(out));
        assertEquals(List.of(out), list(dir));
    }

    @Test
    void failedDirectoryLeavesNothing() throws IOException {
        Path out = dir.resolve("frames");
        assertThrows(IOException.class, () -> AtomicFiles.writeDirectory(out, temp -> {
            Files.writeString(temp.resolve("frame_000.png"), "x");
            throw new IOException("second frame failed");
        }));
        assertEquals(List.of(), list(dir));
    }

    @Test
    void emptyDirectoryIsReplacedButANonEmptyOneIsRefused() throws IOException {
        Path out = Files.createDirectory(dir.resolve("frames"));
        AtomicFiles.writeDirectory(out, temp -> Files.writeString(temp.resolve("a"), "1"));
        assertEquals(List.of(out.resolve("a")), list(out));
        FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
                () -> AtomicFiles.writeDirectory(out, temp -> Files.writeString(temp.resolve("b"), "2")));
        assertTrue(e.getMessage().contains(out.toString()), e.getMessage());
        assertEquals(List.of(out.resolve("a")), list(out));
        assertEquals(List.of(out), list(dir));
    }

    private static List<Path> list(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.sorted().toList();
        }
    }
}
