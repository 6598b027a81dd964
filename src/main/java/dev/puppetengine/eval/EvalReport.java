package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The scores of an evaluation run: the per-example metrics, their summaries, and the JSON report. In JSON an
 * undefined value (drag error without drags) is null; PSNR of identical frames is the string "Infinity".
 */
public final class EvalReport {
    /** Summary keys in display order, with how each example's value is read. */
    private static final Map<String, ToDoubleFunction<VideoScore>> METRICS = new LinkedHashMap<>();

    static {
        METRICS.put("psnr", VideoScore::meanPsnr);
        METRICS.put("ssim", VideoScore::meanSsim);
        METRICS.put("drag_error_px", s -> s.drag().meanPx());
        METRICS.put("drag_error_norm", s -> s.drag().meanNormalised());
        METRICS.put("drag_end_error_px", s -> s.drag().endPx());
        METRICS.put("drag_error_gt_px", s -> s.truthDrag().meanPx());
    }

    private EvalReport() {}

    public static Map<String, Summary> summaries(List<VideoScore> scores) {
        Map<String, Summary> out = new LinkedHashMap<>();
        METRICS.forEach((k, f) -> out.put(k, Summary.of(scores.stream().mapToDouble(f).toArray())));
        return out;
    }

    /** {@code header} (model, data, sampling settings) followed by the metric definitions, summary, examples and failures. */
    public static ObjectNode json(ObjectNode header, PointTracker tracker, List<VideoScore> scores, Map<String, String> failed) {
        ObjectNode root = header.deepCopy();
        ObjectNode defs = root.putObject("metrics");
        defs.put("psnr", "dB over RGB, per frame against the ground truth at the model resolution, averaged over all frames");
        defs.put("ssim", "BT.601 luma, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, L 255, mean over full windows, per frame, averaged over all frames");
        defs.put("drag_error", "distance from each drag's start point tracked through the generated frames to the drag's target, "
                + "averaged over drags and frames 1..F-1; px at the model resolution, norm = px / side; end = last frame only; "
                + "gt = the same measured on the ground-truth video (the tracker's error floor)");
        defs.putObject("tracker").put("patch_radius", tracker.patchRadius()).put("search_radius", tracker.searchRadius())
                .put("method", "mean squared difference on luma over the patch pixels inside the frame, template fixed from frame 0, "
                        + "search centred on the previous frame's match and kept inside the frame, whole-pixel displacements");
        ObjectNode summary = root.putObject("summary");
        summaries(scores).forEach((k, s) -> {
            ObjectNode o = summary.putObject(k);
            o.put("n", s.n());
            put(o, "mean", s.mean());
            put(o, "std", s.std());
        });
        ArrayNode examples = root.putArray("examples");
        for (VideoScore s : scores) {
            ObjectNode e = examples.addObject();
            e.put("name", s.name());
            e.put("drags", s.drags());
            if (!s.files().isEmpty()) s.files().forEach(e.putObject("files_sha256")::put);   // what the scores were measured on
            METRICS.forEach((k, f) -> put(e, k, f.applyAsDouble(s)));
            e.set("psnr_per_frame", array(s.psnr()));
            e.set("ssim_per_frame", array(s.ssim()));
            e.set("drag_error_px_per_frame", array(s.drag().perFramePx()));
            ArrayNode tracks = e.putArray("tracks");
            for (double[][] t : s.drag().tracks()) {
                ArrayNode track = tracks.addArray();
                for (double[] p : t) track.addArray().add(p[0]).add(p[1]);
            }
        }
        ArrayNode f = root.putArray("failed");
        failed.forEach((name, message) -> f.addObject().put("name", name).put("error", message));
        return root;
    }

    private static void put(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) o.putNull(key);
        else o.put(key, v);
    }

    private static ArrayNode array(double[] values) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (double v : values) {
            if (Double.isNaN(v)) a.addNull();
            else a.add(v);
        }
        return a;
    }
}
