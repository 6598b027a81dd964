package dev.puppetengine.io.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puppetengine.io.Json;
import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The validated JSON header of a safetensors file. Nothing from the file is trusted until every entry has a
 * known dtype, a non-negative shape whose byte size matches its range, and the ranges tile the data section
 * exactly (in bounds, no overlaps, no gaps), as the reference implementation requires.
 */
final class SafetensorsHeader {
    /** The reference implementation's cap; a real header (1664 tensors) is ~200 KB. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    static final String METADATA_KEY = "__metadata__";

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final Set<String> ENTRY_FIELDS = Set.of("dtype", "shape", "data_offsets");
    private static final String SUPPORTED = Arrays.stream(DType.values()).map(DType::safetensorsName).collect(Collectors.joining(", "));

    /** Entries in data order. */
    final List<SafetensorsEntry> entries;
    final Map<String, String> metadata;

    private SafetensorsHeader(List<SafetensorsEntry> entries, Map<String, String> metadata) {
        this.entries = entries;
        this.metadata = metadata;
    }

    static SafetensorsHeader parse(Path file, byte[] json, long dataSize) throws SafetensorsException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file, "header is not valid JSON: " + Json.oneLine(e));
        } catch (IOException e) {
            throw new SafetensorsException(file, "header could not be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject())
            throw new SafetensorsException(file, "header must be a JSON object, found " + (root == null ? "nothing" : root.getNodeType()));

        Map<String, String> metadata = new LinkedHashMap<>();
        List<SafetensorsEntry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals(METADATA_KEY)) metadata = parseMetadata(file, f.getValue());
            else entries.add(parseEntry(file, f.getKey(), f.getValue()));
        }
        entries.sort(Comparator.comparingLong(SafetensorsEntry::begin).thenComparingLong(SafetensorsEntry::end));
        checkTiling(file, entries, dataSize);
        return new SafetensorsHeader(List.copyOf(entries), Collections.unmodifiableMap(metadata));
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) throws SafetensorsException {
        if (!node.isObject()) throw new SafetensorsException(file, METADATA_KEY + " must be an object of strings, found " + node.getNodeType());
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual())
                throw new SafetensorsException(file, METADATA_KEY + " value of '" + f.getKey() + "' must be a string, found " + f.getValue().getNodeType());
            out.put(f.getKey(), f.getValue().textValue());
        }
        return out;
    }

    private static SafetensorsEntry parseEntry(Path file, String name, JsonNode node) throws SafetensorsException {
        if (!node.isObject()) throw bad(file, name, "entry must be an object, found " + node.getNodeType());
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!ENTRY_FIELDS.contains(field)) throw bad(file, name, "unexpected field '" + field + "' (expected dtype, shape, data_offsets)");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) throw bad(file, name, "dtype must be a string");
        DType dtype = DType.fromSafetensors(dt.textValue());
        if (dtype == null) throw bad(file, name, "unsupported dtype '" + dt.textValue() + "' (supported: " + SUPPORTED + ")");

        long[] dims = longs(file, name, node.get("shape"), "shape", -1);
        int[] shape = new int[dims.length];
        long bytes = dtype.bytes();
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] > Integer.MAX_VALUE) throw bad(file, name, "shape " + Arrays.toString(dims) + " has a dimension above 2^31-1");
            shape[i] = (int) dims[i];
            try {
                bytes = Math.multiplyExact(bytes, dims[i]);
            } catch (ArithmeticException e) {
                throw bad(file, name, "shape " + Arrays.toString(dims) + " x " + dtype.bytes() + " bytes overflows 64 bits");
            }
        }
        long[] range = longs(file, name, node.get("data_offsets"), "data_offsets", 2);
        if (range[0] > range[1]) throw bad(file, name, "data_offsets " + Arrays.toString(range) + " end before they begin");
        if (range[1] - range[0] != bytes)
            throw bad(file, name, "data_offsets " + Arrays.toString(range) + " span " + (range[1] - range[0]) + " bytes but "
                    + dtype + " " + Arrays.toString(dims) + " needs " + bytes);
        return new SafetensorsEntry(name, dtype, shape, range[0], range[1]);
    }

    /** A JSON array of non-negative integers that fit a long (of length {@code n} unless n < 0). */
    private static long[] longs(Path file, String name, JsonNode node, String field, int n) throws SafetensorsException {
        if (node == null || !node.isArray()) throw bad(file, name, field + " must be an array of integers");
        if (n >= 0 && node.size() != n) throw bad(file, name, field + " must have " + n + " entries, found " + node.size());
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0)
                throw bad(file, name, field + " entry " + v + " is not a non-negative 64-bit integer");
            out[i] = v.longValue();
        }
        return out;
    }

    private static void checkTiling(Path file, List<SafetensorsEntry> sorted, long dataSize) throws SafetensorsException {
        long pos = 0;
        SafetensorsEntry prev = null;
        for (SafetensorsEntry e : sorted) {
            if (e.end() > dataSize)
                throw bad(file, e.name(), "data_offsets [" + e.begin() + ", " + e.end() + "] lie outside the data section of " + dataSize + " bytes");
            if (e.begin() < pos)
                throw bad(file, e.name(), "data_offsets [" + e.begin() + ", " + e.end() + "] overlap tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + "]");
            if (e.begin() > pos)
                throw bad(file, e.name(), "gap of " + (e.begin() - pos) + " bytes before data_offsets [" + e.begin() + ", " + e.end() + "]");
            pos = e.end();
            prev = e;
        }
        if (pos != dataSize)
            throw new SafetensorsException(file, "data section is " + dataSize + " bytes but the tensors cover only " + pos);
    }

    private static SafetensorsException bad(Path file, String tensor, String problem) {
        return new SafetensorsException(file, "tensor '" + tensor + "': " + problem);
    }
}
