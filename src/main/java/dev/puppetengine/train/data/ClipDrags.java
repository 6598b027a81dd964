package dev.puppetengine.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.drag.DragTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The drags of one clip, as stored in its {@code drags.json}. Tracks are in pixels: x = column, y = row,
 * origin top-left, pixel centres at integer coordinates; one (x, y) per frame ({@code double[2F]}).
 *
 * <pre>{
 *   "format": "puppet-engine-drags", "version": 1,
 *   "image_size": [W, H], "frames": F, "normalized": false,
 *   "drags":             [[[x, y] per frame] per drag],   the chosen drags (at most 5): what the tensor encodes
 *   "candidates":        [[[x, y] per frame] ...],        every tracked point on a moving part
 *   "static_candidates": [[[x, y] per frame] ...],        points on static parts (constant tracks)
 *   "info": {...}                                          producer's notes (scene kind, parts)
 * }</pre>
 * Training redraws the drags from the candidates for every batch with {@link DragSelection#choose}, as the
 * reference loader does per item (train.PreparedData).
 */
public record ClipDrags(int width, int height, int frames, List<double[]> drags, List<double[]> candidates,
                        List<double[]> staticCandidates, JsonNode info) {
    static final String FORMAT = "puppet-engine-drags";
    static final int VERSION = 1;

    public ClipDrags {
        drags = List.copyOf(drags);
        candidates = List.copyOf(candidates);
        staticCandidates = List.copyOf(staticCandidates);
    }

    /** The (F, 5, 4) drag tensor of {@link #drags()}, row-major (spec 3.2). */
    public float[] tensor() {
        return DragTensor.encodePixels(drags, frames, width, height);
    }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("format", FORMAT);
        o.put("version", VERSION);
        o.putArray("image_size").add(width).add(height);
        o.put("frames", frames);
        o.put("normalized", false);
        o.set("drags", tracksJson(drags));
        o.set("candidates", tracksJson(candidates));
        o.set("static_candidates", tracksJson(staticCandidates));
        o.set("info", info);
        return o;
    }

    static ClipDrags fromJson(JsonNode o, Path file) throws IOException {
        if (!FORMAT.equals(o.path("format").asText()) || o.path("version").asInt() != VERSION)
            throw new InputFileException(file + ": expected format '" + FORMAT + "' version " + VERSION + ", found " + o.path("format") + " " + o.path("version"));
        if (Json.bool(o, "normalized", file)) throw new InputFileException(file + ": normalized coordinates are not supported, expected pixels");
        JsonNode size = Json.field(o, "image_size", file);
        if (!size.isArray() || size.size() != 2 || !size.get(0).canConvertToInt() || !size.get(1).canConvertToInt())
            throw new InputFileException(file + ": field 'image_size' must be [width, height], found " + size);
        int frames = Json.positive(o, "frames", file), w = size.get(0).asInt(), h = size.get(1).asInt();
        List<double[]> drags = tracks(o, "drags", frames, file);
        for (int k = 0; k < drags.size(); k++)          // the chosen drags are sampled as given (candidates may leave the image: prepare drops those)
            for (int f = 0; f < frames; f++) {
                double x = drags.get(k)[2 * f], y = drags.get(k)[2 * f + 1];
                if (!(x >= 0 && x <= w && y >= 0 && y <= h))
                    throw new InputFileException(file + ": drags[" + k + "][" + f + "] " + o.get("drags").get(k).get(f) + " lies outside the " + w + "x" + h + " image");
            }
        return new ClipDrags(w, h, frames, drags, tracks(o, "candidates", frames, file),
                tracks(o, "static_candidates", frames, file), o.has("info") ? o.get("info") : JsonNodeFactory.instance.objectNode());
    }

    private static ArrayNode tracksJson(List<double[]> tracks) {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (double[] t : tracks) {
            ArrayNode track = arr.addArray();
            for (int i = 0; i < t.length; i += 2) track.addArray().add(t[i]).add(t[i + 1]);
        }
        return arr;
    }

    private static List<double[]> tracks(JsonNode o, String name, int frames, Path file) throws IOException {
        JsonNode arr = Json.field(o, name, file);
        if (!arr.isArray()) throw new InputFileException(file + ": field '" + name + "' must be a list of tracks");
        List<double[]> out = new ArrayList<>();
        for (int k = 0; k < arr.size(); k++) {
            JsonNode track = arr.get(k);
            if (!track.isArray() || track.size() != frames)
                throw new InputFileException(file + ": " + name + "[" + k + "] must list " + frames + " [x, y] positions, found " + track);
            double[] t = new double[2 * frames];
            for (int f = 0; f < frames; f++) {
                JsonNode p = track.get(f);
                if (!p.isArray() || p.size() != 2 || !p.get(0).isNumber() || !p.get(1).isNumber())
                    throw new InputFileException(file + ": " + name + "[" + k + "][" + f + "] must be [x, y], found " + p);
                t[2 * f] = p.get(0).asDouble();
                t[2 * f + 1] = p.get(1).asDouble();
            }
            out.add(t);
        }
        return out;
    }
}
