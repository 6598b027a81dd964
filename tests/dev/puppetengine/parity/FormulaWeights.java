package dev.puppetengine.parity;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The reference fixtures' weights, rebuilt from their formula (see tests/fixtures/gen_reference_parity.py, "weights by
 * formula"): h = FNV-1a-64(key), z_i = splitmix64(h ^ i), r_i = 2 (z_i >>> 11) 2^-53 - 1, value = float32(base + scale r)
 * with base/scale by key and shape. Written as the float32 safetensors file with the reference's key names and PyTorch
 * layouts that the generator's model held, and checked byte for byte by the sha256 the generator recorded.
 */
final class FormulaWeights {
    static final String FORMULA = "fnv1a64-splitmix64-v1";

    private FormulaWeights() {}

    static long fnv1a64(String key) {
        long h = 0xCBF29CE484222325L;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) h = (h ^ (b & 0xff)) * 0x100000001B3L;
        return h;
    }

    static float[] values(String key, int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        double base, scale;
        if (key.endsWith("mix_factor")) { base = 0.5; scale = 1.0; }
        else if (shape.length == 1 && key.endsWith(".weight")) { base = 1.0; scale = 0.25; }
        else if (shape.length == 1) { base = 0.0; scale = 0.2; }
        else { base = 0.0; scale = 1.0 / Math.sqrt((double) (n / shape[0])); }
        long h = fnv1a64(key);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            long z = (h ^ i) + 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            double r = 2.0 * ((z >>> 11) * 0x1.0p-53) - 1.0;
            v[i] = (float) (base + scale * r);
        }
        return v;
    }

    /** Writes {@code file} from {@code manifest} (weights_manifest.json); asserts the generator's sha256. */
    static void write(Path manifest, Path file) throws IOException {
        JsonNode m = Json.mapper().readTree(manifest.toFile());
        assertEquals(FORMULA, m.get("formula").asText());
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        for (JsonNode t : m.get("tensors")) {
            String key = t.get(0).asText();
            int[] shape = new int[t.get(1).size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get(1).get(i).asInt();
            float[] v = values(key, shape);
            ByteBuffer bb = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : v) bb.putFloat(x);
            bb.flip();
            sha.update(bb.duplicate());
            items.add(new SafetensorsWriter.Item(key, DType.F32, shape, out -> out.put(bb.duplicate())));
        }
        assertEquals(m.get("sha256").asText(), HexFormat.of().formatHex(sha.digest()), "formula weights differ from the generator's");
        SafetensorsWriter.write(file, Map.of("format", "pt"), items);
    }
}
