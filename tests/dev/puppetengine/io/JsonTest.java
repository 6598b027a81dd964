package dev.puppetengine.io;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
    void bytesThatLookLikeUtf32AreInvalidJsonNamingTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path f = dir.resolve("dataset.json");
        java.nio.file.Files.write(f, new byte[] {0, 0, 0, '{', (byte) 0xff});
        String msg = assertThrows(InputFileException.class, () -> Json.read(f)).getMessage();
        assertTrue(msg.startsWith(f + ": not valid JSON ("), msg);
    }
}
