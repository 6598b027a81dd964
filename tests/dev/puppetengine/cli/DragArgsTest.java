package dev.puppetengine.cli;

import dev.puppetengine.pipeline.DragPath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which drags a drags file's "normalized" key governs: its own, never the command line's. */
class DragArgsTest {
    @TempDir
    Path dir;

    private Path file(String json) throws IOException {
        Path f = dir.resolve("drags-" + Math.abs(json.hashCode()) + ".json");
        Files.writeString(f, json);
        return f;
    }

    @Test
    void aFilesNormalizedKeyAppliesToItsDragsOnly() throws IOException {
        Path normalizedFile = file("{\"normalized\": true, \"drags\": [{\"start\": [0.25, 0.5], \"end\": [0.75, 0.5]}]}");
        List<DragPath> d = DragArgs.parse(List.of("64,128:192,64"), normalizedFile, false, 256, 256, 14);
        assertArrayEquals(new double[]{0.25, 0.75}, d.get(0).xs(), 0);
        assertArrayEquals(new double[]{0.25, 0.75}, d.get(1).xs(), 0, "command-line drags stay in pixels");
        assertArrayEquals(new double[]{0.5, 0.25}, d.get(1).ys(), 0);

        Path pixelFile = file("{\"normalized\": false, \"drags\": [{\"start\": [64, 128], \"end\": [192, 128]}]}");
        UserError e = assertThrows(UserError.class, () -> DragArgs.parse(List.of("0.5,0.5:0.7,0.6"), pixelFile, true, 256, 256, 14));
        assertTrue(e.getMessage().contains(pixelFile + " says \"normalized\": false (pixels), but --normalized was given"), e.getMessage());

        Path plainFile = file("{\"drags\": [{\"start\": [0.25, 0.5], \"end\": [0.75, 0.5]}]}");   // no key: the flag decides
        d = DragArgs.parse(List.of("0.5,0.5:0.7,0.6"), plainFile, true, 256, 256, 14);
        assertArrayEquals(new double[]{0.25, 0.75}, d.get(0).xs(), 0);
        assertArrayEquals(new double[]{0.5, 0.7}, d.get(1).xs(), 0);
        d = DragArgs.parse(List.of(), plainFile, false, 256, 256, 14);
        assertEquals(0.25 / 256, d.get(0).xs()[0], 1e-12, "without the key or the flag: pixels");
    }

    /** A malformed drags file is one line naming where (no Jackson source excerpt); a repeated key is refused, not overridden. */
    @Test
    void malformedAndAmbiguousFilesAreRefusedInOneLine() throws IOException {
        Path truncated = file("{\"drags\": [[[5,6],[7");
        UserError e = assertThrows(UserError.class, () -> DragArgs.parse(List.of(), truncated, false, 256, 256, 14));
        assertEquals("drags file " + truncated + " is not valid JSON: Unexpected end-of-input: expected close marker for Array"
                + " (start marker at line: 1, column: 19) (line 1, column 21)", e.getMessage());
        Path twice = file("{\"drags\": [{\"start\": [1, 2], \"end\": [3, 4]}], \"drags\": []}");
        e = assertThrows(UserError.class, () -> DragArgs.parse(List.of(), twice, false, 256, 256, 14));
        assertTrue(e.getMessage().contains("Duplicate field 'drags'"), e.getMessage());
        Path huge = file("{\"drags\": [{\"start\": [1e308, 2], \"end\": [3, 4]}]}");   // said briefly, not in 309 digits
        e = assertThrows(UserError.class, () -> DragArgs.parse(List.of(), huge, false, 256, 256, 14));
        assertTrue(e.getMessage().endsWith("drag 0 point 0 (1.00e+308, 2.0) is outside the 256x256 image"), e.getMessage());
    }
}
