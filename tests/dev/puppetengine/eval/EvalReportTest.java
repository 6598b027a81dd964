package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.RgbImage;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The report a user reads: each example's numbers and the summaries, computed here by hand from chosen scores. */
class EvalReportTest {

    /**
     * Example a: PSNR 20, 30 dB, SSIM 0.5, 0.75, a drag 8 px off at frame 1 of 2 on a 64 px side (ground truth 2 px), two
     * files. Example b: no drags, so its drag errors are undefined (null, not NaN, which JSON has not), and no files.
     */
    @Test
    void examplesAndSummariesCarryTheScoresWithUndefinedValuesAsNull() throws IOException {
        VideoScore a = new VideoScore("a", 1, new double[]{20, 30}, new double[]{0.5, 0.75},
                new DragError(64, new double[]{0, 8}, List.<double[][]>of(new double[][]{{1, 2}, {3, 4}})),
                new DragError(64, new double[]{0, 2}, List.<double[][]>of(new double[][]{{1, 2}, {1, 3}})), Map.of("a.pkl", "aa"));
        DragError none = new DragError(64, new double[]{Double.NaN, Double.NaN}, List.of());
        VideoScore b = new VideoScore("b", 0, new double[]{40, 50}, new double[]{1, 0.5}, none, none, Map.of());
        Map<String, String> failed = new LinkedHashMap<>();
        failed.put("c", "c.pkl: truncated");
        ObjectNode header = Json.mapper().createObjectNode().put("model", "/m");

        ObjectNode r = EvalReport.json(header, new PointTracker(3, 5), List.of(a, b), failed);

        assertEquals("/m", r.path("model").asText());
        assertFalse(header.has("metrics"), "the caller's header is left as it was");
        assertEquals(3, r.path("metrics").path("tracker").path("patch_radius").asInt());
        assertEquals(5, r.path("metrics").path("tracker").path("search_radius").asInt());
        assertEquals(Json.mapper().readTree("{\"name\":\"a\",\"drags\":1,\"files_sha256\":{\"a.pkl\":\"aa\"},\"psnr\":25.0,\"ssim\":0.625,"
                + "\"drag_error_px\":8.0,\"drag_error_norm\":0.125,\"drag_end_error_px\":8.0,\"drag_error_gt_px\":2.0,"
                + "\"psnr_per_frame\":[20.0,30.0],\"ssim_per_frame\":[0.5,0.75],\"drag_error_px_per_frame\":[0.0,8.0],\"tracks\":[[[1.0,2.0],[3.0,4.0]]]}"),
                r.path("examples").get(0));
        assertEquals(Json.mapper().readTree("{\"name\":\"b\",\"drags\":0,\"psnr\":45.0,\"ssim\":0.75,"
                + "\"drag_error_px\":null,\"drag_error_norm\":null,\"drag_end_error_px\":null,\"drag_error_gt_px\":null,"
                + "\"psnr_per_frame\":[40.0,50.0],\"ssim_per_frame\":[1.0,0.5],\"drag_error_px_per_frame\":[null,null],\"tracks\":[]}"),
                r.path("examples").get(1));

        JsonNode s = r.path("summary");   // sample standard deviations: sqrt(2 * 10^2 / 1), sqrt(2 * 0.0625^2 / 1); one value: 0
        assertEquals(List.of("psnr", "ssim", "drag_error_px", "drag_error_norm", "drag_end_error_px", "drag_error_gt_px"), s.properties().stream().map(Map.Entry::getKey).toList());
        assertSummary(s.path("psnr"), 2, 35, 10 * Math.sqrt(2));
        assertSummary(s.path("ssim"), 2, 0.6875, 0.0625 * Math.sqrt(2));
        assertSummary(s.path("drag_error_px"), 1, 8, 0);
        assertSummary(s.path("drag_error_norm"), 1, 0.125, 0);
        assertSummary(s.path("drag_end_error_px"), 1, 8, 0);
        assertSummary(s.path("drag_error_gt_px"), 1, 2, 0);
        assertEquals(Json.mapper().readTree("[{\"name\":\"c\",\"error\":\"c.pkl: truncated\"}]"), r.path("failed"));
    }

    private static void assertSummary(JsonNode s, int n, double mean, double std) {
        assertEquals(n, s.path("n").asInt(), s.toString());
        assertEquals(mean, s.path("mean").doubleValue(), 1e-12, s.toString());
        assertEquals(std, s.path("std").doubleValue(), 1e-12, s.toString());
    }

    /** Scores are measured frame against frame: a video of another length than its ground truth is refused naming the example. */
    @Test
    void measuringAVideoOfAnotherLengthIsRefusedNamingTheExample() {
        RgbImage frame = RgbImage.blank(4, 4);
        Example ex = new Example("00007", frame, List.of(), List.of(frame, frame, frame));
        String msg = assertThrows(IllegalArgumentException.class, () -> VideoScore.measure(ex, List.of(frame, frame), new PointTracker(1, 1))).getMessage();
        assertEquals("00007: 3 ground-truth frames, 2 generated", msg);
    }
}
