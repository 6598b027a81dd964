package dev.puppetengine.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The engine's one JSON mapper (indented output: manifests, configs, reports, the tuning cache), and checked field
 * access for the files it reads; every error names the file and the field.
 */
public final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);   // "{...}}}" is not a manifest

    private Json() {}

    public static ObjectMapper mapper() { return MAPPER; }

    /** A JSON parse or mapping error in one line: Jackson's message without its source excerpt, plus where and which field. */
    public static String oneLine(IOException e) {
        if (!(e instanceof com.fasterxml.jackson.core.JacksonException j)) return e.getMessage();
        String where = j.getLocation() == null || j.getLocation().getLineNr() < 1 ? "" : " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")";
        String field = e instanceof com.fasterxml.jackson.databind.JsonMappingException m && !m.getPath().isEmpty()
                ? " at field '" + m.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                        .collect(java.util.stream.Collectors.joining(".")) + "'" : "";
        String msg = j.getOriginalMessage() == null ? "" : j.getOriginalMessage().lines().findFirst().orElse("");
        int src = msg.indexOf(" (for root starting at ");   // Jackson's pointer into a redacted source excerpt
        if (src >= 0) msg = msg.substring(0, src);
        return msg + field + where;
    }

    public static JsonNode read(Path file) throws IOException {
        try {
            return MAPPER.readTree(Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new InputFileException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    public static byte[] bytes(JsonNode node) throws IOException {
        return MAPPER.writeValueAsBytes(node);
    }

    public static JsonNode field(JsonNode obj, String name, Path file) throws IOException {
        JsonNode v = obj.get(name);
        if (v == null || v.isNull()) throw new InputFileException(file + ": field '" + name + "' is missing");
        return v;
    }

    public static long integer(JsonNode obj, String name, long min, Path file) throws IOException {
        JsonNode v = field(obj, name, file);
        if (!v.isIntegralNumber() || v.asLong() < min)
            throw new InputFileException(file + ": field '" + name + "' must be an integer >= " + min + ", found " + v);
        return v.asLong();
    }

    public static int positive(JsonNode obj, String name, Path file) throws IOException {
        return Math.toIntExact(integer(obj, name, 1, file));
    }

    public static String text(JsonNode obj, String name, Path file) throws IOException {
        JsonNode v = field(obj, name, file);
        if (!v.isTextual()) throw new InputFileException(file + ": field '" + name + "' must be a string, found " + v);
        return v.asText();
    }

    public static boolean bool(JsonNode obj, String name, Path file) throws IOException {
        JsonNode v = field(obj, name, file);
        if (!v.isBoolean()) throw new InputFileException(file + ": field '" + name + "' must be true or false, found " + v);
        return v.asBoolean();
    }
}
