package dev.puppetengine.bench;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cuda.CudaBackend;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import dev.puppetengine.tensor.Scope;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The one harness behind {@code bench gemm} and {@code bench kernels}: times each {@link OpCase} on the engine's
 * backend (fresh random inputs, warm-up, then {@code iters} calls, each timed by {@link Backend#timeMillis}: CUDA events
 * on a GPU, as the PyTorch side is timed, the wall clock on the CPU; median), writes the cases and our times as JSON, runs the PyTorch script on that same JSON (or merges a
 * results file it wrote earlier), and prints one table: our time, TFLOP/s, GB/s, % of the roofline, PyTorch's
 * time and the speedup (PyTorch ms / our ms: above 1 we are faster).
 *
 * <p>Roofline: max(FLOPs / --peak-tflops, bytes / copy bandwidth), where the copy bandwidth is the "copy" case
 * measured in the same run on the same side (so each side is judged against its own device copy). A case that
 * throws is reported with its error and the run goes on: the CUDA backend has never run before its first visit.
 */
public final class OpBench {
    private OpBench() {}

    /** warmup/iters: per case; torch: "auto", "none" or a python executable; torchResults: a results file to merge instead. */
    public record Options(int warmup, int iters, String torch, Path torchResults, Path torchScript, Double peakTflops, Path json) {}

    /** Runs every case, merges PyTorch, prints the table; returns the report (also written to {@code o.json()} when set). */
    public static ObjectNode run(Backend backend, String what, ObjectNode header, List<OpCase> cases, Options o) throws IOException, InterruptedException {
        ObjectMapper json = Json.mapper();
        ObjectNode report = json.createObjectNode();
        report.put("date", Instant.now().toString()).put("what", what).put("backend", backend.name())
                .put("warmup", o.warmup()).put("iters", o.iters()).put("timing", "each call between two CUDA events (wall clock on the CPU), median, on both sides");
        if (o.peakTflops() != null) report.put("peak_tflops", o.peakTflops()); else report.putNull("peak_tflops");
        if (backend instanceof CudaBackend cb) report.put("device", cb.deviceName()).put("gemm", cb.usesCublas() ? "cublas and builtin kernels, the faster per shape" : "builtin kernels");
        report.setAll(header);
        ArrayNode rows = report.putArray("cases");
        if (o.torchResults() != null) readTorchResults(o.torchResults());   // a bad file refused before minutes of timing, not after
        Set<String> ids = new HashSet<>();
        for (OpCase c : cases)
            if (!ids.add(c.id())) throw new IllegalStateException("two benchmark cases share the id '" + c.id() + "' (PyTorch results merge by id)");
        System.err.printf(Locale.ROOT, "%s: %d cases, warmup %d, iters %d%n", what, cases.size(), o.warmup(), o.iters());
        Path file = o.json() != null ? o.json() : Files.createTempFile("puppet-bench", ".json");
        AtomicFile.writeString(file, json.writeValueAsString(report));
        for (OpCase c : cases) {
            ObjectNode r = rows.addObject();
            r.put("id", c.id()).put("group", c.group()).put("count", c.count()).put("flops", c.flops()).put("bytes", c.bytes());
            r.set("spec", c.spec());
            try {
                if (backend instanceof CudaBackend cb) cb.gemmPathsUsed();   // forget earlier cases' paths
                r.put("ours_ms", time(backend, c, o.warmup(), o.iters()));
                if (backend instanceof CudaBackend cb) {
                    List<String> paths = cb.gemmPathsUsed();
                    if (!paths.isEmpty()) r.put("gemm_path", String.join(",", paths));
                }
                System.err.printf(Locale.ROOT, "  %s: %.4f ms%s%n", c.id(), r.get("ours_ms").asDouble(),   // progress, in case the run is cut short
                        r.has("gemm_path") ? " [" + r.get("gemm_path").asText() + "]" : "");
            } catch (RuntimeException e) {
                r.put("ours_error", String.valueOf(e));
                System.err.println("  " + c.id() + ": FAILED " + e);
            }
            // after every case: a run stopped part-way (a device visit's time limit) keeps what it timed (--ours-results)
            AtomicFile.writeString(file, json.writeValueAsString(report));
        }

        if (backend instanceof CudaBackend cb) cb.emptyCache();        // hand our cached blocks back for PyTorch's allocator
        return finish(report, file, o);
    }

    /**
     * An earlier run's report ({@code ours}: its --json file, our side timed; say a run stopped while PyTorch was
     * timing), without timing anything again: PyTorch's results merged ({@code o.torchResults()}, else the script
     * on the report's cases), then the table printed and the report written to {@code o.json()} as {@link #run} does.
     * {@code command} ("bench gemm" or "bench kernels"): the report must be that command's, as its "what" says.
     */
    public static ObjectNode finishEarlier(Path ours, String command, Options o) throws IOException, InterruptedException {
        JsonNode read;
        try {
            read = Json.mapper().readTree(ours.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(ours + ": cannot read it as JSON (" + Json.oneLine(e) + ")", e);
        }
        if (!(read instanceof ObjectNode report) || !report.path("cases").isArray() || !report.has("backend"))
            throw new IllegalArgumentException(ours + ": not the --json report of bench gemm or bench kernels (expected an object with \"backend\" and a \"cases\" array)");
        String what = report.path("what").asText("");
        if (!what.startsWith(command + ":"))
            throw new IllegalArgumentException(ours + ": not a report of " + command + " (its \"what\" is "
                    + (what.isEmpty() ? "missing" : "\"" + what + "\"") + "); finish it with the command that wrote it");
        for (JsonNode r : report.get("cases")) {
            if (!r.path("id").isTextual() || !r.path("flops").isNumber() || !r.path("bytes").isNumber() || !r.has("spec"))
                throw new IllegalArgumentException(ours + ": case " + r.path("id").asText("#" + r) + " lacks id, flops, bytes or spec");
            // what an earlier merge derived goes: it is derived again from the times below
            ((ObjectNode) r).remove(List.of("torch_ms", "torch_error", "torch_layout", "torch_ms_nchw", "torch_ms_channels_last",
                    "torch_channels_last_error", "torch_tflops", "torch_gbps", "torch_roofline_pct", "speedup"));
        }
        report.remove(List.of("torch", "group_totals", "torch_conv_layouts"));
        Double peak = o.peakTflops() != null ? o.peakTflops() : report.path("peak_tflops").isNumber() ? report.get("peak_tflops").asDouble() : null;
        if (peak != null) report.put("peak_tflops", peak);
        Options with = new Options(o.warmup(), o.iters(), o.torch(), o.torchResults(), o.torchScript(), peak, o.json());
        System.err.println("bench: " + report.path("what").asText("?") + ", our times from " + ours);
        Path file = o.json() != null ? o.json() : Files.createTempFile("puppet-bench", ".json");
        if (!file.equals(ours)) AtomicFile.writeString(file, Json.mapper().writeValueAsString(report));
        return finish(report, file, with);
    }

    /** PyTorch merged into {@code report} (whose cases are in {@code file}), speedups derived, the table printed, the report written. */
    private static ObjectNode finish(ObjectNode report, Path file, Options o) throws IOException, InterruptedException {
        ObjectMapper json = Json.mapper();
        JsonNode rows = report.get("cases");
        JsonNode torch = torchResults(report.get("backend").asText(), file, o);
        if (torch.has("results")) {
            report.set("torch", ((ObjectNode) torch.deepCopy()).without("results"));
            int matched = 0;
            for (JsonNode r : rows) {
                JsonNode t = torch.get("results").get(r.get("id").asText());
                if (t == null) continue;
                matched++;
                ObjectNode row = (ObjectNode) r;
                if (t.has("ms")) {
                    if (!(t.get("ms").isNumber() && t.get("ms").asDouble() > 0))
                        throw new IllegalArgumentException("PyTorch results, case '" + r.get("id").asText() + "': \"ms\" must be a positive number, found " + t.get("ms"));
                    row.put("torch_ms", t.get("ms").asDouble());
                }
                if (t.has("error")) row.put("torch_error", t.get("error").asText());
                // convolutions timed in both layouts: torch_ms is the faster one's (torch_ops.py's second pass)
                for (String f : new String[]{"layout", "ms_nchw", "ms_channels_last", "channels_last_error"})
                    if (t.has(f)) row.set("torch_" + f, t.get(f));
            }
            if (matched == 0 && rows.size() > 0 && torch.get("results").size() > 0)
                throw new IllegalArgumentException("the PyTorch results (" + (o.torchResults() != null ? o.torchResults() : "torch_ops.py") + ") match none of the "
                        + rows.size() + " cases by id: timed for another model, preset or --frames?");
        } else {
            report.set("torch", torch);
        }
        derive((ArrayNode) rows, o.peakTflops());
        print(report);
        if (o.json() != null) {
            AtomicFile.writeString(file, json.writeValueAsString(report));
            System.err.println("wrote " + file);
        } else {
            Files.deleteIfExists(file);
        }
        return report;
    }

    /** Median milliseconds of one case; inputs live in a scope per case, outputs in one per call. */
    static double time(Backend backend, OpCase c, int warmup, int iters) {
        try (Scope inputs = Scope.open()) {
            Runnable op = c.setup().prepare(backend);
            backend.synchronize();
            for (int i = 0; i < warmup; i++)
                try (Scope s = Scope.open()) {
                    op.run();
                    backend.synchronize();
                }
            double[] ms = new double[iters];
            for (int i = 0; i < iters; i++)
                try (Scope s = Scope.open()) {
                    ms[i] = backend.timeMillis(op);
                }
            Arrays.sort(ms);
            return ms[Median.index(iters)];
        }
    }

    /** A --torch-results file: torch_ops.py's output, an object with a "results" object. */
    private static JsonNode readTorchResults(Path file) throws IOException {
        JsonNode r;
        try {
            r = Json.mapper().readTree(file.toFile());
        } catch (JacksonException e) {
            throw new IllegalArgumentException("--torch-results " + file + ": not valid JSON: " + Json.oneLine(e));
        }
        if (r == null || !r.path("results").isObject())
            throw new IllegalArgumentException("--torch-results " + file + ": expected torch_ops.py's output, an object with a \"results\" object");
        return r;
    }

    /** The PyTorch side: a given results file, else the script's output, else {"skipped": why}. */
    private static JsonNode torchResults(String backend, Path cases, Options o) throws IOException, InterruptedException {
        if (o.torchResults() != null) return readTorchResults(o.torchResults());
        ObjectMapper json = Json.mapper();
        String why = null, python = o.torch();
        String device = backend.equals("cuda") ? "cuda" : "cpu";
        if (python.equals("none")) why = "--torch none";
        else if (!Files.isRegularFile(o.torchScript())) why = "no script at " + o.torchScript();
        else if (python.equals("auto")) {
            python = "python3";
            why = probe(python, device);
        }
        if (why == null) {
            Path out = o.json() != null ? o.json().resolveSibling(o.json().getFileName() + ".torch.json") : Files.createTempFile("puppet-torch", ".json");
            Files.deleteIfExists(out);
            System.err.println("PyTorch side: " + python + " " + o.torchScript());
            int rc;
            try {
                rc = new ProcessBuilder(python, o.torchScript().toString(), cases.toString(), out.toString(), "--device", device,
                        "--warmup", String.valueOf(o.warmup()), "--iters", String.valueOf(o.iters())).inheritIO().start().waitFor();
            } catch (IOException e) {
                rc = -1;
                System.err.println("cannot run " + python + ": " + e.getMessage());
            }
            // The script rewrites its results after every case, so a crash part-way still leaves the cases it finished.
            if (Files.isRegularFile(out)) {
                JsonNode r = json.readTree(out.toFile());
                if (rc != 0) System.err.println("PyTorch script exited with " + rc + "; merging the cases it finished");
                if (o.json() == null) Files.deleteIfExists(out);
                return r;
            }
            why = python + " " + o.torchScript().getFileName() + " exited with " + rc + " and wrote no results";
        }
        System.err.println("PyTorch side skipped: " + why);
        return json.createObjectNode().put("skipped", why);
    }

    /** Null when {@code python} can import torch (and, for cuda, sees a GPU); else why not. */
    private static String probe(String python, String device) throws IOException, InterruptedException {
        return probe(python, device, 120);
    }

    /** As above, given up after {@code seconds} (its output goes to a file: a pipe read to its end would wait past that). */
    static String probe(String python, String device, int seconds) throws IOException, InterruptedException {
        String code = "import sys, torch; sys.exit(0 if '" + device + "' == 'cpu' or torch.cuda.is_available() else 3)";
        Path out = Files.createTempFile("puppet-torch-probe", ".txt");
        try {
            Process p;
            try {
                p = new ProcessBuilder(python, "-c", code).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            } catch (IOException e) {
                return python + " not found (" + e.getMessage() + ")";
            }
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return python + " -c 'import torch' did not finish in " + seconds + " s";
            }
            if (p.exitValue() == 3) return "torch is importable but sees no CUDA device";
            if (p.exitValue() != 0) {
                String[] lines = new String(Files.readAllBytes(out)).strip().split("\n");   // any bytes, as they came
                return python + " cannot import torch (" + lines[lines.length - 1] + ")";
            }
            return null;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Adds TFLOP/s, GB/s, roofline % and the speedup to each row from its times. */
    private static void derive(ArrayNode rows, Double peakTflops) {
        Double oursBw = null, torchBw = null;                        // bytes per ms, from the copy case
        for (JsonNode r : rows)
            if (r.get("spec").get("kind").asText().equals("copy")) {
                if (r.has("ours_ms")) oursBw = r.get("bytes").asDouble() / r.get("ours_ms").asDouble();
                if (r.has("torch_ms")) torchBw = r.get("bytes").asDouble() / r.get("torch_ms").asDouble();
            }
        for (JsonNode n : rows) {
            ObjectNode r = (ObjectNode) n;
            double flops = r.get("flops").asDouble(), bytes = r.get("bytes").asDouble();
            for (String side : new String[]{"ours", "torch"}) {
                if (!r.has(side + "_ms")) continue;
                double ms = r.get(side + "_ms").asDouble();
                if (flops > 0) r.put(side + "_tflops", flops / ms / 1e9);
                if (bytes > 0) r.put(side + "_gbps", bytes / ms / 1e6);
                Double bw = side.equals("ours") ? oursBw : torchBw;
                double roof = Math.max(peakTflops == null ? 0 : flops / (peakTflops * 1e9), bw == null ? 0 : bytes / bw);
                if (roof > 0) r.put(side + "_roofline_pct", 100 * roof / ms);
            }
            if (r.has("ours_ms") && r.has("torch_ms")) r.put("speedup", r.get("torch_ms").asDouble() / r.get("ours_ms").asDouble());
        }
    }

    private static void print(ObjectNode report) {
        JsonNode rows = report.get("cases");
        int w = 4;
        for (JsonNode r : rows) w = Math.max(w, r.get("id").asText().length());
        String head = "%-" + w + "s %6s %10s %8s %8s %6s %10s %8s %8s  %s%n";
        System.out.printf(Locale.ROOT, head, "case", "count", "ours ms", "TFLOP/s", "GB/s", "roof%", "torch ms", "TFLOP/s", "speedup", "GEMM path");
        // group -> {ours ms x count, torch ms x count, cases, sum of ln(speedup)}: the time-weighted ratio says what a
        // whole pass gains; the geometric mean of the per-shape ratios is issue 5's target metric (each shape counts once)
        Map<String, double[]> groups = new LinkedHashMap<>();
        for (JsonNode r : rows) {
            System.out.printf(Locale.ROOT, "%-" + w + "s %6d %10s %8s %8s %6s %10s %8s %8s  %s%n", r.get("id").asText(), r.get("count").asInt(),
                    num(r, "ours_ms", "%.4f", r.has("ours_error") ? "FAILED" : "-"), num(r, "ours_tflops", "%.3g", ""), num(r, "ours_gbps", "%.1f", ""),
                    num(r, "ours_roofline_pct", "%.0f", ""), num(r, "torch_ms", "%.4f", r.has("torch_error") ? "FAILED" : "-"),
                    num(r, "torch_tflops", "%.3g", ""), num(r, "speedup", "%.2f", "-"), r.path("gemm_path").asText(""));
            if (r.has("speedup")) {
                double[] g = groups.computeIfAbsent(r.get("group").asText(), k -> new double[4]);
                g[0] += r.get("count").asInt() * r.get("ours_ms").asDouble();
                g[1] += r.get("count").asInt() * r.get("torch_ms").asDouble();
                g[2]++;
                g[3] += Math.log(r.get("speedup").asDouble());
            }
        }
        JsonNode t = report.get("torch");
        if (t.has("skipped")) System.out.println("PyTorch side skipped: " + t.get("skipped").asText());
        else System.out.println("PyTorch " + t.path("torch").asText("?") + " on " + t.path("device").asText("?"));
        convLayouts(rows, report);
        ObjectNode sums = report.putObject("group_totals");
        groups.forEach((g, v) -> {
            double geo = Math.exp(v[3] / v[2]);
            System.out.printf(Locale.ROOT, "%s: ours %.3f ms, torch %.3f ms over %d cases weighted by count: speedup %.2f; geometric mean of the cases' speedups %.3f%n",
                    g, v[0], v[1], (int) v[2], v[1] / v[0], geo);
            sums.putObject(g).put("ours_ms", v[0]).put("torch_ms", v[1]).put("cases", (int) v[2]).put("speedup", v[1] / v[0])
                    .put("geomean_speedup", geo);
        });
    }

    /**
     * Which layout cuDNN itself is faster in, over the convolutions PyTorch timed both ways: the measurement
     * behind the engine's channels-last activations (issue 5 asks to measure before deciding).
     */
    private static void convLayouts(JsonNode rows, ObjectNode report) {
        int cases = 0, clFaster = 0;
        double logs = 0;
        for (JsonNode r : rows)
            if (r.has("torch_ms_nchw") && r.has("torch_ms_channels_last")) {
                double nchw = r.get("torch_ms_nchw").asDouble(), cl = r.get("torch_ms_channels_last").asDouble();
                cases++;
                if (cl < nchw) clFaster++;
                logs += Math.log(nchw / cl);
            }
        if (cases == 0) return;
        double geo = Math.exp(logs / cases);
        System.out.printf(Locale.ROOT, "PyTorch convolutions in both layouts (torch ms is the faster): channels-last faster in %d of %d cases;"
                + " geometric mean of NCHW ms / channels-last ms %.3f%n", clFaster, cases, geo);
        report.putObject("torch_conv_layouts").put("cases", cases).put("channels_last_faster", clFaster).put("geomean_nchw_over_channels_last", geo);
    }

    private static String num(JsonNode r, String field, String fmt, String missing) {
        return r.has(field) ? String.format(Locale.ROOT, fmt, r.get(field).asDouble()) : missing;
    }
}
