package dev.puppetengine.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import java.io.CharConversionException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The engine's one JSON mapper (indented output: manifests, configs, reports, the tuning cache), and checked field
 * access for the files it reads; every error names the file and the field.
 */
public final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)   // "{...}}}" is not a manifest
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);     // two "drags" keys: which one was meant?

    /** What {@link #oneLine} and {@link #read} say of a file with no JSON value in it (empty, or only white space). */
    public static final String EMPTY = "empty document";

    private Json() {}

    public static ObjectMapper mapper() { return MAPPER; }

    /** A JSON parse or mapping error in one line: Jackson's message without its source excerpt, plus where and which field. */
    public static String oneLine(IOException e) {
        if (!(e instanceof JacksonException j)) return e.getMessage();
        String where = j.getLocation() == null || j.getLocation().getLineNr() < 1 ? "" : " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")";
        String field = e instanceof JsonMappingException m && !m.getPath().isEmpty() ? " at field '" + path(m) + "'" : "";
        if (e instanceof UnrecognizedPropertyException u)   // Jackson names our class and keeps the fields it knows out of its message
            return "unknown field \"" + u.getPropertyName() + "\"" + (u.getKnownPropertyIds() == null ? "" : " (known: "   // null: not known
                    + u.getKnownPropertyIds().stream().map(k -> "\"" + k + "\"").sorted().collect(Collectors.joining(", ")) + ")") + field + where;
        String msg = j.getOriginalMessage() == null ? "" : j.getOriginalMessage().lines().findFirst().orElse("");
        // a typed read of an empty (or blank) file: Jackson places it at "column 0" and says nothing of the file being empty
        if (e instanceof MismatchedInputException && msg.startsWith("No content to map due to end-of-input")) return EMPTY;
        int src = msg.indexOf(" (for root starting at ");   // Jackson's pointer into a redacted source excerpt
        if (src >= 0) msg = msg.substring(0, src);
        // advice to Jackson's programmer, not to the user: "(set DeserializationConfig.X to 'false' to allow)", "(disable `X` to allow)",
        // "(but could if coercion was enabled using `CoercionConfig`)"
        msg = msg.replaceFirst(" \\((?:(?:set DeserializationConfig\\.\\S+ to '\\w+'|(?:en|dis)able `[\\w.]+`) to allow"
                + "|but could if coercion was enabled using `CoercionConfig`)\\)", "");
        // the parser's: "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow" (also after "+1"),
        // "maybe a (non-standard) comment? (not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)"
        msg = msg.replaceFirst("^(Non-standard token '[^']*'): enable `[\\w.]+` to allow", "$1: JSON has no NaN or Infinity")
                .replaceFirst(": enable `[\\w.]+` to allow", "").replaceFirst(" \\(not recognized as one since Feature '\\w+' not enabled for parser\\)", "");
        // "(bound as `...JsonNode`): not allowed as per `DeserializationFeature.FAIL_ON_TRAILING_TOKENS`": the type is ours, the feature Jackson's
        msg = msg.replaceFirst(" \\(bound as `[^`]*`\\): not allowed as per `[\\w.]+`", "");
        msg = msg.replaceAll("\\[Source: REDACTED \\([^)]*\\); ([^\\]]*)\\]", "$1");   // "(start marker at [Source: REDACTED (...); line: 1, column: 4])"
        return msg + field + where;
    }

    /** Where a mapping failed, as a user writes it: {@code points[1].y}, or {@code [0].x} in a top-level array. */
    private static String path(JsonMappingException m) {
        String p = m.getPath().stream().map(r -> r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining());
        return p.startsWith(".") ? p.substring(1) : p;
    }

    public static JsonNode read(Path file) throws IOException {
        try {
            JsonNode root = MAPPER.readTree(Files.readAllBytes(file));
            if (root.isMissingNode()) throw new InputFileException(file + ": not valid JSON (" + EMPTY + ")");   // Jackson reads "" as no value
            return root;
        } catch (JacksonException | CharConversionException e) {   // the latter: bytes Jackson took for UTF-32
            throw new InputFileException(file + ": not valid JSON (" + oneLine(e) + ")", e);
        }
    }

    /** {@code value} as a file read back would give it (numbers typed as parsed), so it compares equal with what was saved. */
    public static JsonNode asRead(Object value) throws IOException {
        return MAPPER.readTree(MAPPER.writeValueAsString(value));
    }

    /**
     * Where the settings a file recorded ({@code was}) differ from the current ones ({@code now}): one entry per leaf,
     * "path was -> now", values abbreviated; {@code path} names the root ("" for none).
     */
    public static List<String> differences(String path, JsonNode was, JsonNode now) {
        List<String> out = new ArrayList<>();
        differences(path, was, now, out);
        return out;
    }

    private static void differences(String path, JsonNode was, JsonNode now, List<String> out) {
        if (now.equals(was)) return;
        if (now.isObject() && was.isObject()) {
            now.fields().forEachRemaining(f -> differences(join(path, f.getKey()), was.path(f.getKey()), f.getValue(), out));
            was.fieldNames().forEachRemaining(k -> {
                if (!now.has(k)) out.add(join(path, k) + " " + abbreviate(was.get(k)) + " -> (absent)");
            });
        } else {
            out.add(path + " " + (was.isMissingNode() ? "(absent)" : abbreviate(was)) + " -> " + abbreviate(now));
        }
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String abbreviate(JsonNode v) {
        String t = v.toString();
        return t.length() <= 60 ? t : t.substring(0, 57) + "...";
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
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min)   // asLong would wrap a value beyond 64 bits
            throw new InputFileException(file + ": field '" + name + "' must be an integer >= " + min + ", found " + v);
        return v.asLong();
    }

    /** An integer field in [min, 2^31-1]: counts and sizes, which Java holds in an int. */
    public static int intAtLeast(JsonNode obj, String name, int min, Path file) throws IOException {
        long v = integer(obj, name, min, file);
        if (v > Integer.MAX_VALUE)
            throw new InputFileException(file + ": field '" + name + "' must be an integer from " + min + " to " + Integer.MAX_VALUE + ", found " + v);
        return (int) v;
    }

    public static int positive(JsonNode obj, String name, Path file) throws IOException {
        return intAtLeast(obj, name, 1, file);
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
