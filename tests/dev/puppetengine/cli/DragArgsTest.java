package dev.puppetengine.cli;

import dev.puppetengine.pipeline.DragPath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

    private static String refused(List<String> specs, Path file, boolean normalized, int width, int height, int frames) {
        return assertThrows(UserError.class, () -> DragArgs.parse(specs, file, normalized, width, height, frames)).getMessage();
    }

    /** Points on the image's (or the model's square's) edges are taken, a tenth of a pixel beyond refused, on each side. */
    @Test
    void pointsOnTheEdgesAreTakenAndBeyondThemRefused() {
        DragArgs.parse(List.of("0,100:256,100", "100,0:100,256"), null, false, 256, 256, 14);
        DragArgs.parse(List.of("0,0.5:1,0.5", "0.5,0:0.5,1"), null, true, 256, 256, 14);
        for (String out : new String[]{"-0.1,100:50,100", "256.1,100:50,100", "100,-0.1:50,100", "100,256.1:50,100"})
            assertTrue(refused(List.of(out), null, false, 256, 256, 14).endsWith("is outside the 256x256 image"), out);
        for (String out : new String[]{"-0.001,0.5:0.5,0.5", "1.001,0.5:0.5,0.5", "0.5,-0.001:0.5,0.5", "0.5,1.001:0.5,0.5"})
            assertTrue(refused(List.of(out), null, true, 256, 256, 14).endsWith("is outside [0, 1] (normalized coordinates)"), out);
        // 320x256: the model sees x 32..288
        DragArgs.parse(List.of("32,100:288,100"), null, false, 320, 256, 14);
        assertEquals("drag 0 point 0 (31.0, 100.0) is outside the centred 256x256 square the model sees (x 32..288, y 0..256)",
                refused(List.of("31,100:100,100"), null, false, 320, 256, 14));
        assertEquals("drag 0 point 1 (288.5, 100.0) is outside the centred 256x256 square the model sees (x 32..288, y 0..256)",
                refused(List.of("100,100:288.5,100"), null, false, 320, 256, 14));
    }

    /** At most five drags; a trajectory has one point per frame or two; malformed specs and points say what is wrong. */
    @Test
    void countsTrajectoriesAndMalformedDragsAreRefused() throws IOException {
        List<String> five = List.of("10,10:20,20", "30,30:40,40", "50,50:60,60", "70,70:80,80", "90,90:100,100");
        assertEquals(5, DragArgs.parse(five, null, false, 256, 256, 14).size());
        List<String> six = new ArrayList<>(five);
        six.add("110,110:120,120");
        assertEquals("at most 5 drags, got 6", refused(six, null, false, 256, 256, 14));
        Path three = file("{\"drags\": [{\"trajectory\": [[10, 10], [20, 20], [30, 30]]}]}");
        assertEquals(3, DragArgs.parse(List.of(), three, false, 256, 256, 3).get(0).xs().length);
        assertEquals("drags file " + three + ": drag 0: a trajectory needs one point per frame (14), or two (start and end), got 3",
                refused(List.of(), three, false, 256, 256, 14));
        Path one = file("{\"drags\": [{\"trajectory\": [[10, 10]]}]}");
        assertEquals("drags file " + one + ", drag 0: a trajectory is an array of at least two [x, y] points", refused(List.of(), one, false, 256, 256, 14));
        Path word = file("{\"drags\": [{\"start\": [\"a\", 1], \"end\": [2, 3]}]}");
        assertEquals("drags file " + word + ", drag 0 start: expected [x, y]", refused(List.of(), word, false, 256, 256, 14));
        Path neither = file("{\"drags\": [{\"start\": [1, 1]}]}");
        assertEquals("drags file " + neither + ", drag 0: needs \"start\" and \"end\", or \"trajectory\"", refused(List.of(), neither, false, 256, 256, 14));
        // a misspelt key is refused, not ignored: "normalised" ignored would read [0, 1] points as pixels near the corner
        Path british = file("{\"normalised\": true, \"drags\": [{\"start\": [0.25, 0.5], \"end\": [0.75, 0.5]}]}");
        assertEquals("drags file " + british + ": unknown key \"normalised\" (known: \"drags\", \"normalized\")", refused(List.of(), british, false, 256, 256, 14));
        Path singular = file("{\"drag\": [{\"start\": [1, 1], \"end\": [2, 2]}]}");   // named as the typo it is, not as a file without drags
        assertEquals("drags file " + singular + ": unknown key \"drag\" (known: \"drags\", \"normalized\")", refused(List.of(), singular, false, 256, 256, 14));
        Path misspelt = file("{\"drags\": [{\"start\": [1, 1], \"end\": [2, 2]}, {\"start\": [1, 1], \"ned\": [2, 2]}]}");
        assertEquals("drags file " + misspelt + ", drag 1: unknown key \"ned\" (known: \"start\", \"end\", \"trajectory\")",
                refused(List.of(), misspelt, false, 256, 256, 14));
        Path both = file("{\"drags\": [{\"start\": [1, 1], \"end\": [2, 2], \"trajectory\": [[1, 1], [3, 3]]}]}");
        assertEquals("drags file " + both + ", drag 0: give \"start\" and \"end\", or \"trajectory\", not both", refused(List.of(), both, false, 256, 256, 14));
        assertEquals("malformed drag '1,2:3': expected x0,y0:x1,y1", refused(List.of("1,2:3"), null, false, 256, 256, 14));
        assertEquals("malformed drag '1,2,3:4,5': expected x0,y0:x1,y1", refused(List.of("1,2,3:4,5"), null, false, 256, 256, 14));
        assertEquals("malformed drag '1,2': expected x0,y0:x1,y1", refused(List.of("1,2"), null, false, 256, 256, 14));
        assertEquals("malformed drag 'a,b:1,2': 'a,b' is not two numbers", refused(List.of("a,b:1,2"), null, false, 256, 256, 14));
        assertEquals("drag 'NaN,1:2,3' has a non-finite coordinate", refused(List.of("NaN,1:2,3"), null, false, 256, 256, 14));
        assertEquals("drag '1,Infinity:2,3' has a non-finite coordinate", refused(List.of("1,Infinity:2,3"), null, false, 256, 256, 14));
        // a file: each drag named by its index; a two-point trajectory is a start and an end
        Path second = file("{\"drags\": [{\"trajectory\": [[10, 10], [20, 20]]}, {\"start\": [1, 1, 1], \"end\": [2, 2]}]}");
        assertEquals("drags file " + second + ", drag 1 start: expected [x, y]", refused(List.of(), second, false, 256, 256, 14));
        Path infinite = file("{\"drags\": [{\"start\": [1e999, 1], \"end\": [2, 1e999]}]}");
        assertEquals("drags file " + infinite + ", drag 0 start: non-finite coordinate", refused(List.of(), infinite, false, 256, 256, 14));
        Path infiniteY = file("{\"drags\": [{\"start\": [1, 1], \"end\": [2, 1e999]}]}");
        assertEquals("drags file " + infiniteY + ", drag 0 end: non-finite coordinate", refused(List.of(), infiniteY, false, 256, 256, 14));
        Path empty = file(""), blank = file(" \n"), noDrags = file("{}");   // an empty file said so, not taken for an object without drags
        assertEquals("drags file " + empty + " is not valid JSON: empty document", refused(List.of(), empty, false, 256, 256, 14));
        assertEquals("drags file " + blank + " is not valid JSON: empty document", refused(List.of(), blank, false, 256, 256, 14));
        assertEquals("drags file " + noDrags + ": expected an object with a \"drags\" array", refused(List.of(), noDrags, false, 256, 256, 14));
        Path yes = file("{\"normalized\": \"yes\", \"drags\": []}");
        assertEquals("drags file " + yes + ": \"normalized\" must be true or false, found \"yes\"", refused(List.of(), yes, false, 256, 256, 14));
        // 256x320: the model sees y 32..288
        assertEquals("drag 0 point 0 (100.0, 31.0) is outside the centred 256x256 square the model sees (x 0..256, y 32..288)",
                refused(List.of("100,31:100,100"), null, false, 256, 320, 14));
        assertEquals("drag 0 point 1 (100.0, 288.5) is outside the centred 256x256 square the model sees (x 0..256, y 32..288)",
                refused(List.of("100,100:100,288.5"), null, false, 256, 320, 14));
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
