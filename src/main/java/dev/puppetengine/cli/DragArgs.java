package dev.puppetengine.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.SquareCrop;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.pipeline.DragPath;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Drags from the command line ("x0,y0:x1,y1") or a JSON file, in pixels of the input image (mapped through the
 * centre square the model sees) or, with {@code normalized}, in [0, 1] coordinates of that square. A file's own
 * "normalized" key applies to its drags only (the command line's follow {@code normalized}); a file that says false
 * while {@code normalized} is set is refused as a contradiction, and so is a key the format does not have.
 *
 * <pre>
 * {"normalized": false,
 *  "drags": [{"start": [120, 80], "end": [180, 80]},
 *            {"trajectory": [[40, 40], [41, 42], ...one point per frame...]}]}
 * </pre>
 */
final class DragArgs {
    private DragArgs() {}

    /** A coordinate for a message: fixed-point with {@code decimals}, in scientific notation when huge (1e308 has 309 digits). */
    private static String num(double v, int decimals) {
        return Math.abs(v) < 1e6 ? String.format(Locale.ROOT, "%." + decimals + "f", v) : String.format(Locale.ROOT, "%.3g", v);
    }

    static List<DragPath> parse(List<String> specs, Path jsonFile, boolean normalized, int width, int height, int frames) {
        List<double[][]> raw = new ArrayList<>();           // per drag: points (x, y)
        boolean fileNorm = normalized;
        if (jsonFile != null) {
            JsonNode root;
            try {
                root = Json.mapper().readTree(jsonFile.toFile());
            } catch (JsonProcessingException e) {   // Jackson's own message spans lines: keep one
                throw new UserError("drags file " + jsonFile + " is not valid JSON: " + Json.oneLine(e));
            } catch (IOException e) {
                throw new UserError("cannot read drags file " + jsonFile + ": " + Main.message(e));
            }
            if (root == null || root.isMissingNode()) throw new UserError("drags file " + jsonFile + " is not valid JSON: " + Json.EMPTY);
            // keys first: a misspelt "drag" is named as such, not as a file without drags; "normalised" ignored would read [0, 1] points as pixels
            if (root.isObject()) onlyKeys(root, "drags file " + jsonFile, "drags", "normalized");
            if (!root.has("drags") || !root.get("drags").isArray())
                throw new UserError("drags file " + jsonFile + ": expected an object with a \"drags\" array");
            if (root.has("normalized") && !root.get("normalized").isBoolean())
                throw new UserError("drags file " + jsonFile + ": \"normalized\" must be true or false, found " + root.get("normalized"));
            fileNorm = root.path("normalized").asBoolean(normalized);
            if (normalized && !fileNorm)
                throw new UserError("drags file " + jsonFile + " says \"normalized\": false (pixels), but --normalized was given");
            int k = 0;
            for (JsonNode d : root.get("drags")) {
                String where = "drags file " + jsonFile + ", drag " + k++;
                onlyKeys(d, where, "start", "end", "trajectory");
                if (d.has("trajectory") && (d.has("start") || d.has("end")))
                    throw new UserError(where + ": give \"start\" and \"end\", or \"trajectory\", not both");
                if (d.has("trajectory")) raw.add(points(d.get("trajectory"), where));
                else if (d.has("start") && d.has("end")) raw.add(new double[][]{point(d.get("start"), where + " start"), point(d.get("end"), where + " end")});
                else throw new UserError(where + ": needs \"start\" and \"end\", or \"trajectory\"");
            }
        }
        int fromFile = raw.size();   // drags [0, fromFile) came from jsonFile: their errors name it
        for (String s : specs) raw.add(parseSpec(s));
        if (raw.size() > DragTensor.SLOTS) throw new UserError("at most " + DragTensor.SLOTS + " drags, got " + raw.size());
        SquareCrop crop = SquareCrop.centred(width, height);
        List<DragPath> out = new ArrayList<>();
        for (int k = 0; k < raw.size(); k++) {
            double[][] pts = raw.get(k);
            String src = k < fromFile ? "drags file " + jsonFile + ": " : "";
            boolean norm = k < fromFile ? fileNorm : normalized;
            if (pts.length > 2 && pts.length != frames)
                throw new UserError(src + "drag " + k + ": a trajectory needs one point per frame (" + frames + "), or two (start and end), got " + pts.length);
            double[] xs = new double[pts.length], ys = new double[pts.length];
            for (int i = 0; i < pts.length; i++) {
                double x = pts[i][0], y = pts[i][1];
                if (norm) {
                    if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1))
                        throw new UserError(src + String.format(Locale.ROOT, "drag %d point %d (%s, %s) is outside [0, 1] (normalized coordinates)", k, i, num(x, 4), num(y, 4)));
                    xs[i] = x;
                    ys[i] = y;
                } else {
                    if (!(x >= 0 && x <= width && y >= 0 && y <= height))
                        throw new UserError(src + String.format(Locale.ROOT, "drag %d point %d (%s, %s) is outside the %dx%d image", k, i, num(x, 1), num(y, 1), width, height));
                    double[] n = crop.normalise(x, y);
                    if (!(n[0] >= 0 && n[0] <= 1 && n[1] >= 0 && n[1] <= 1))
                        throw new UserError(src + String.format(Locale.ROOT, "drag %d point %d (%.1f, %.1f) is outside the centred %dx%d square the model sees (x %d..%d, y %d..%d)",
                                k, i, x, y, crop.side(), crop.side(), crop.left(), crop.left() + crop.side(), crop.top(), crop.top() + crop.side()));
                    xs[i] = n[0];
                    ys[i] = n[1];
                }
            }
            out.add(new DragPath(xs, ys));
        }
        try {
            DragPath.tensor(out, frames);   // what the tensor cannot hold (a drag from the corner), before any model loads
        } catch (IllegalArgumentException e) {
            throw new UserError(Main.message(e));
        }
        return out;
    }

    /** "x0,y0:x1,y1". */
    static double[][] parseSpec(String s) {
        String[] ends = s.trim().split(":");
        if (ends.length != 2) throw new UserError("malformed drag '" + s + "': expected x0,y0:x1,y1");
        return new double[][]{pair(ends[0], s), pair(ends[1], s)};
    }

    private static double[] pair(String p, String whole) {
        String[] xy = p.split(",");
        if (xy.length != 2) throw new UserError("malformed drag '" + whole + "': expected x0,y0:x1,y1");
        try {
            double x = Double.parseDouble(xy[0].trim()), y = Double.parseDouble(xy[1].trim());
            if (!Double.isFinite(x) || !Double.isFinite(y)) throw new UserError("drag '" + whole + "' has a non-finite coordinate");
            return new double[]{x, y};
        } catch (NumberFormatException e) {
            throw new UserError("malformed drag '" + whole + "': '" + p + "' is not two numbers");
        }
    }

    /** Refuses a key of {@code o} other than {@code known}: a misspelt key would otherwise be silently ignored. */
    private static void onlyKeys(JsonNode o, String where, String... known) {
        List<String> keys = List.of(known);
        o.fieldNames().forEachRemaining(k -> {
            if (!keys.contains(k))
                throw new UserError(where + ": unknown key \"" + k + "\" (known: \"" + String.join("\", \"", keys) + "\")");
        });
    }

    private static double[] point(JsonNode n, String where) {
        if (n == null || !n.isArray() || n.size() != 2 || !n.get(0).isNumber() || !n.get(1).isNumber())
            throw new UserError(where + ": expected [x, y]");
        double x = n.get(0).asDouble(), y = n.get(1).asDouble();
        if (!Double.isFinite(x) || !Double.isFinite(y)) throw new UserError(where + ": non-finite coordinate");
        return new double[]{x, y};
    }

    private static double[][] points(JsonNode n, String where) {
        if (!n.isArray() || n.size() < 2) throw new UserError(where + ": a trajectory is an array of at least two [x, y] points");
        double[][] p = new double[n.size()][];
        for (int i = 0; i < p.length; i++) p[i] = point(n.get(i), where + " point " + i);
        return p;
    }
}
