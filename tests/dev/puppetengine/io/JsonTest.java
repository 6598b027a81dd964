package dev.puppetengine.io;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonTest {
    private static final Path FILE = Path.of("dataset.json");

    private static JsonNode parse(String json) throws Exception {
        return Json.mapper().readTree(json);
    }

    /** Found by fuzzing: "width": 8589934592 was an ArithmeticException (integer overflow) from Math.toIntExact. */
    @Test
    void anIntFieldBeyondAnIntIsRefusedNamingFileAndField() throws Exception {
        String msg = assertThrows(InputFileException.class, () -> Json.positive(parse("{\"width\": 8589934592}"), "width", FILE)).getMessage();
        assertTrue(msg.contains("dataset.json") && msg.contains("'width'") && msg.contains("8589934592"), msg);
        assertThrows(InputFileException.class, () -> Json.intAtLeast(parse("{\"count\": 2147483648}"), "count", 0, FILE));
        assertEquals(Integer.MAX_VALUE, Json.intAtLeast(parse("{\"count\": 2147483647}"), "count", 0, FILE));
    }

    /** Found by fuzzing: a value beyond 64 bits was wrapped by asLong (2^64 + 5 read as 5), not refused. */
    @Test
    void anIntegerBeyond64BitsIsRefusedNotWrapped() {
        assertThrows(InputFileException.class, () -> Json.integer(parse("{\"seed\": 18446744073709551621}"), "seed", Long.MIN_VALUE, FILE));
        assertThrows(InputFileException.class, () -> Json.positive(parse("{\"frames\": 18446744073709551621}"), "frames", FILE));
    }

    /** Found by fuzzing: bytes that Jackson's encoding detection takes for UTF-32 escaped as a bare CharConversionException (exit 1, no file). */
    @Test
    void bytesThatLookLikeUtf32AreInvalidJsonNamingTheFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("dataset.json");
        Files.write(f, new byte[] {0, 0, 0, '{', (byte) 0xff});
        String msg = assertThrows(InputFileException.class, () -> Json.read(f)).getMessage();
        assertTrue(msg.startsWith(f + ": not valid JSON ("), msg);
    }

    /**
     * differences, as a resume or a prepared set refused for other settings says them: one line per leaf, nested keys joined
     * with dots, absent on either side said so, values up to 60 characters in full and longer ones cut to 57 and "...".
     */
    @Test
    void differencesNameEachChangedLeafWithItsPath() throws Exception {
        String x58 = "x".repeat(58), x70 = "x".repeat(70);
        JsonNode was = parse("{\"lr\": 0.001, \"steps\": 10, \"model\": {\"size\": \"small\", \"layers\": 4}, \"old\": true, "
                + "\"edge\": \"" + x58 + "\", \"long\": \"" + x70 + "\"}");
        JsonNode now = parse("{\"lr\": 0.002, \"steps\": 10, \"model\": {\"size\": \"big\"}, \"new\": [1, 2], \"edge\": \"e\", \"long\": \"y\"}");
        assertEquals(List.of("lr 0.001 -> 0.002", "model.size \"small\" -> \"big\"", "model.layers 4 -> (absent)", "new (absent) -> [1,2]",
                "edge \"" + x58 + "\" -> \"e\"", "long \"" + "x".repeat(56) + "... -> \"y\"", "old true -> (absent)"), Json.differences("", was, now));
        assertEquals(List.of("train.lr 0.001 -> 0.002"), Json.differences("train", parse("{\"lr\": 0.001}"), parse("{\"lr\": 0.002}")));
        assertEquals(List.of("seed 1 -> 2"), Json.differences("seed", parse("1"), parse("2")));
        assertEquals(List.of(), Json.differences("", was, was.deepCopy()));
    }

    /** Each checked accessor refuses, naming the file and the field, a null, a value of another kind, or one below the minimum. */
    @Test
    void checkedFieldsRefuseNullsOtherKindsAndValuesBelowTheMinimum() throws Exception {
        JsonNode o = parse("{\"a\": null, \"n\": 3, \"s\": 5, \"t\": \"hi\", \"b\": \"true\", \"c\": false}");
        assertEquals("dataset.json: field 'a' is missing", assertThrows(InputFileException.class, () -> Json.field(o, "a", FILE)).getMessage());
        assertEquals(3, Json.integer(o, "n", 3, FILE));
        assertEquals("dataset.json: field 'n' must be an integer >= 4, found 3", assertThrows(InputFileException.class, () -> Json.integer(o, "n", 4, FILE)).getMessage());
        assertEquals("dataset.json: field 's' must be a string, found 5", assertThrows(InputFileException.class, () -> Json.text(o, "s", FILE)).getMessage());
        assertEquals("hi", Json.text(o, "t", FILE));
        assertEquals("dataset.json: field 'b' must be true or false, found \"true\"", assertThrows(InputFileException.class, () -> Json.bool(o, "b", FILE)).getMessage());
        assertFalse(Json.bool(o, "c", FILE));
    }

    record Point(int x, int y) {}

    record Outline(String name, List<Point> points) {}

    record Series(double[] values) {}

    enum Mode { FAST, SLOW }

    record Setting(Mode mode) {}

    /** Json.oneLine of what {@code read} throws: the one line a command prints for a bad JSON file. */
    private static String oneLine(Executable read) {
        String line = Json.oneLine(assertThrows(IOException.class, read));
        assertFalse(line.contains("\n") || line.contains("Source") || line.contains("REDACTED"), line);
        return line;
    }

    /**
     * A malformed document: Jackson's first line without its pointer into the redacted source, then where. The "(for root
     * starting at ...)" that a stray close marker brings is cut; a start marker's place is kept, as "line: 1, column: 7".
     */
    @Test
    void aMalformedDocumentIsOneLineWithItsLineAndColumn() {
        assertEquals("Unexpected close marker '}': expected ']' (line 1, column 9)", oneLine(() -> parse("{\"a\": 1}}")));
        assertEquals("Duplicate field 'drags' (line 2, column 9)", oneLine(() -> parse("{\"drags\": [],\n \"drags\": []}")));
        assertEquals("Unexpected end-of-input: expected close marker for Array (start marker at line: 1, column: 7) (line 1, column 12)",
                oneLine(() -> parse("{\"a\": [1, 2")));
        assertEquals("Unexpected end-of-input within/between Object entries (line 2, column 5)", oneLine(() -> parse("{\"a\": 1,\n \"b\"")));
        assertEquals("Trailing token (of type START_OBJECT) found after value (line 4, column 1)", oneLine(() -> parse("{\n \"a\": 1\n}\n{}")));
        // what JSON lacks (NaN, Infinity, "+1", comments) said as such, without the parser's advice to its programmer
        assertEquals("Non-standard token 'NaN': JSON has no NaN or Infinity (line 1, column 10)", oneLine(() -> parse("{\"a\": NaN}")));
        assertEquals("Non-standard token '-Infinity': JSON has no NaN or Infinity (line 1, column 16)", oneLine(() -> parse("{\"a\": -Infinity}")));
        assertEquals("Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to have plus signs (line 1, column 8)",
                oneLine(() -> parse("{\"a\": +1}")));
        assertEquals("Unexpected character ('/' (code 47)): maybe a (non-standard) comment? (line 1, column 10)", oneLine(() -> parse("{\"a\": 1} // c")));
    }

    /** A value of the wrong type is named by its path (fields by name, array elements by index) as well as its place. */
    @Test
    void aWrongTypeNamesTheFieldPath() {
        assertEquals("Cannot deserialize value of type `int` from String \"two\": not a valid `int` value at field 'points[1].y' (line 2, column 45)",
                oneLine(() -> Json.mapper().readValue("{\"name\": \"s\",\n \"points\": [{\"x\": 1, \"y\": 2}, {\"x\": 1, \"y\": \"two\"}]}", Outline.class)));
        assertEquals("Cannot deserialize value of type `double` from String \"x\": not a valid `double` value (as String to convert) at field 'values[2]' (line 1, column 21)",
                oneLine(() -> Json.mapper().readValue("{\"values\": [1, 2.5, \"x\"]}", Series.class)));
        assertEquals("Cannot deserialize value of type `int` from String \"one\": not a valid `int` value at field '[1].x' (line 1, column 26)",
                oneLine(() -> Json.mapper().readValue("[{\"x\": 1, \"y\": 2}, {\"x\": \"one\", \"y\": 2}]", Point[].class)));
        // a misspelt field: which fields there are, not Jackson's name for our class
        assertEquals("unknown field \"z\" (known: \"x\", \"y\") at field 'points[0].z' (line 1, column 42)",
                oneLine(() -> Json.mapper().readValue("{\"name\": \"s\", \"points\": [{\"x\": 1, \"z\": 2}]}", Outline.class)));
        // Jackson documents the known fields as possibly unknown (null): the field alone then
        assertEquals("unknown field \"z\"", Json.oneLine(new UnrecognizedPropertyException(null, "m", null, Point.class, "z", null)));
        // the document itself is of the wrong type: there is no field to name
        assertEquals("Cannot deserialize value of type `dev.puppetengine.io.JsonTest$Point` from Array value (token `JsonToken.START_ARRAY`) (line 1, column 1)",
                oneLine(() -> Json.mapper().readValue("[1, 2]", Point.class)));
        // read from a tree (as a progress line is): Jackson knows no line, so none is made up
        assertEquals("Cannot deserialize value of type `int` from String \"two\": not a valid `int` value at field 'y'",
                oneLine(() -> Json.mapper().readerFor(Point.class).readValue(parse("{\"x\": 1, \"y\": \"two\"}"))));
    }

    /**
     * With FAIL_ON_NULL_FOR_PRIMITIVES (the eval progress and training state readers), a null where a number must be says
     * so without Jackson's advice to its programmer to turn the check off, in either of the two wordings Jackson has.
     */
    @Test
    void aNullNumberIsRefusedWithoutJacksonsAdvice() {
        ObjectReader strict = Json.mapper().reader().with(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
        assertEquals("Cannot map `null` into type `int` at field 'y' (line 1, column 15)",
                oneLine(() -> strict.forType(Point.class).readValue("{\"x\": 1, \"y\": null}")));
        assertEquals("Cannot coerce `null` to element of `double[]` at field 'values[0]' (line 1, column 13)",
                oneLine(() -> strict.forType(Series.class).readValue("{\"values\": [null, 2]}")));
        // an empty string for an enum: Jackson's third wording of advice, about its CoercionConfig
        assertEquals("Cannot coerce empty String (\"\") to `dev.puppetengine.io.JsonTest$Mode` value at field 'mode' (line 1, column 10)",
                oneLine(() -> Json.mapper().readValue("{\"mode\": \"\"}", Setting.class)));
    }

    /** An empty or blank file says so, read as a tree or as a type, without Jackson's "column 0". */
    @Test
    void anEmptyDocumentIsSaidToBeEmpty(@TempDir Path dir) throws Exception {
        assertEquals("empty document", oneLine(() -> Json.mapper().readValue("", Point.class)));
        assertEquals("empty document", oneLine(() -> Json.mapper().readValue(" \n\t", Point.class)));
        for (String content : new String[] {"", "\n  \n"}) {
            Path f = Files.writeString(dir.resolve("dataset.json"), content);
            assertEquals(f + ": not valid JSON (empty document)", assertThrows(InputFileException.class, () -> Json.read(f)).getMessage());
        }
        // a document that is JSON's null is no empty one
        assertTrue(Json.read(Files.writeString(dir.resolve("null.json"), "null")).isNull());
    }

    /** Any other IOException says its own message; an exception with nothing to say gives nothing, not a NullPointerException. */
    @Test
    void otherFailuresKeepTheirOwnMessage() {
        assertEquals("/runs/a/progress.jsonl", Json.oneLine(new NoSuchFileException("/runs/a/progress.jsonl")));
        assertEquals("No space left on device", Json.oneLine(new IOException("No space left on device")));
        // Jackson documents both the location and the message as possibly null
        assertEquals("", Json.oneLine(new JsonParseException(null, (String) null)));
    }
}
