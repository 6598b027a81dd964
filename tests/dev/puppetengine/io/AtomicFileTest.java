package dev.puppetengine.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
        AtomicFile.writeStream(f, out -> out.write("second".getBytes()));
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
            throw new IOException("conversion failed");
        }));
        assertEquals("conversion failed", e.getMessage());
        assertEquals(List.of(), listing());
    }

    @Test
    void refusesToReplaceAnExistingDirectory() throws IOException {
        Path out = Files.createDirectory(dir.resolve("exists"));
        assertThrows(FileAlreadyExistsException.class, () -> AtomicFile.publishDirectory(out, tmp -> {}));
        assertEquals(List.of("exists"), listing());
    }
}
