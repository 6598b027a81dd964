package dev.puppetengine.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.drag.DragTensor;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A clip dataset's {@code dataset.json}:
 * <pre>{
 *   "format": "puppet-engine-clips", "version": 1,
 *   "generator": "synthetic-part-motion/1", "seed": 7, "parameters": {...generator settings...},
 *   "count": 1000, "frames": 14, "width": 64, "height": 64, "max_drags": 5,
 *   "split": {"train": [0, 900], "val": [900, 1000]},     half-open clip index ranges
 *   "complete": true                                        false while a generation is under way
 * }</pre>
 * Clips live in {@code clips/000123/} ({@code frame_00.png}.. and {@code drags.json}, see {@link ClipDrags}).
 */
public record DatasetManifest(String generator, long seed, JsonNode parameters, int count, int frames, int width,
                              int height, int trainCount, boolean complete) {
    static final String FORMAT = "puppet-engine-clips";
    static final int VERSION = 1;
    /** A clip's frames are read into one array: the largest a JVM allocates. */
    public static final long MAX_CLIP_BYTES = Integer.MAX_VALUE - 8;

    /** Whether clips of {@code frames} RGB frames of {@code width} x {@code height} fit {@link #MAX_CLIP_BYTES} (divided: the product can pass 2^63). */
    public static boolean clipFits(int frames, int width, int height) {
        return (long) width * height <= MAX_CLIP_BYTES / 3 / frames;
    }

    public DatasetManifest {
        if (trainCount < 0 || trainCount > count)
            throw new IllegalArgumentException("train split of " + trainCount + " clips out of " + count);
    }

    /** The split that puts the last round(count x valFraction) clips into validation. */
    public static int trainCount(int count, double valFraction) {
        if (!(valFraction >= 0 && valFraction <= 1)) throw new IllegalArgumentException("validation fraction " + valFraction + " is not in [0, 1]");
        return count - (int) Math.round(count * valFraction);
    }

    public DatasetManifest withComplete(boolean done) {
        return new DatasetManifest(generator, seed, parameters, count, frames, width, height, trainCount, done);
    }

    /**
     * Why a dataset written under {@code existing} cannot be continued under this manifest, or null when it
     * can: same producer, seed, parameters, clip geometry, count and split. Another count is refused too: it would move
     * clips between the training and validation splits (and leave sets prepared from the old split disagreeing).
     */
    public String conflictWith(DatasetManifest existing) {
        if (count != existing.count || trainCount != existing.trainCount)
            return existing.count + " clips (" + existing.trainCount + " for training) vs " + count + " (" + trainCount + ")";
        if (!generator.equals(existing.generator)) return "generator '" + existing.generator + "' vs '" + generator + "'";
        if (seed != existing.seed) return "seed " + existing.seed + " vs " + seed;
        if (frames != existing.frames) return "frames " + existing.frames + " vs " + frames;
        if (width != existing.width || height != existing.height)
            return "image size " + existing.width + "x" + existing.height + " vs " + width + "x" + height;
        if (!parameters.equals(existing.parameters)) return "parameters " + existing.parameters + " vs " + parameters;
        return null;
    }

    /** dataset.json's content. */
    public JsonNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("format", FORMAT);
        o.put("version", VERSION);
        o.put("generator", generator);
        o.put("seed", seed);
        o.set("parameters", parameters);
        o.put("count", count);
        o.put("frames", frames);
        o.put("width", width);
        o.put("height", height);
        o.put("max_drags", DragTensor.SLOTS);
        ObjectNode split = o.putObject("split");
        split.putArray("train").add(0).add(trainCount);
        split.putArray("val").add(trainCount).add(count);
        o.put("complete", complete);
        return o;
    }

    static DatasetManifest fromJson(JsonNode o, Path file) throws IOException {
        if (!FORMAT.equals(o.path("format").asText()) || o.path("version").asInt() != VERSION)
            throw new InputFileException(file + ": expected format '" + FORMAT + "' version " + VERSION + ", found " + o.path("format") + " " + o.path("version"));
        if (Json.integer(o, "max_drags", 1, file) != DragTensor.SLOTS)
            throw new InputFileException(file + ": field 'max_drags' must be " + DragTensor.SLOTS + ", found " + o.get("max_drags"));
        int count = Json.intAtLeast(o, "count", 0, file);
        JsonNode train = Json.field(Json.field(o, "split", file), "train", file);
        if (!train.isArray() || train.size() != 2 || train.get(0).asInt(-1) != 0 || train.get(1).asInt(-1) < 0 || train.get(1).asInt() > count)
            throw new InputFileException(file + ": field 'split.train' must be [0, n] with n <= count " + count + ", found " + train);
        int frames = Json.positive(o, "frames", file), width = Json.positive(o, "width", file), height = Json.positive(o, "height", file);
        // beyond it the byte count wrapped (a NegativeArraySizeException, or gigabytes allocated before any frame was read)
        if (!clipFits(frames, width, height))
            throw new InputFileException(file + ": fields 'frames' x 'width' x 'height' (" + frames + " x " + width + " x " + height
                    + ") make clips of more than " + MAX_CLIP_BYTES + " RGB bytes, the most one clip may hold");
        return new DatasetManifest(Json.text(o, "generator", file), Json.integer(o, "seed", Long.MIN_VALUE, file),
                Json.field(o, "parameters", file), count, frames, width, height, train.get(1).asInt(), Json.bool(o, "complete", file));
    }
}
