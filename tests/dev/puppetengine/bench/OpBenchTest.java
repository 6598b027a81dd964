package dev.puppetengine.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.testing.WatchedBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpBenchTest {
    /**
     * The warm-up calls run (each followed by a synchronize, as is the prepared inputs' upload) before the timed ones,
     * and the median is of the sorted times: timeMillis scripted to 5, 1, 3 ms gives 3, not the middle call's 1.
     * BenchOpsTest's runs take --warmup 0 --iters 1, where neither shows.
     */
    @Test
    void warmsUpThenTakesTheMedianOfTheSortedTimes() {
        List<String> calls = new ArrayList<>();
        double[] scripted = {5, 1, 3};
        AtomicInteger timed = new AtomicInteger(), runs = new AtomicInteger();
        Backend scripting = WatchedBackend.of(CpuBackend.get(), (m, args, next) -> {
            calls.add(m.getName());
            if (!m.getName().equals("timeMillis")) return next.run();
            ((Runnable) args[0]).run();
            return scripted[timed.getAndIncrement()];
        });
        OpCase c = new OpCase("counted", "g", null, 0, 0, 1, be -> runs::incrementAndGet);
        assertEquals(3.0, OpBench.time(scripting, c, 2, 3));
        assertEquals(5, runs.get());
        assertEquals(List.of("synchronize", "synchronize", "synchronize", "timeMillis", "timeMillis", "timeMillis"), calls);
    }

    /** Our time per case, as scripted: timeMillis answers for the case whose op it is given to run. */
    private static final Map<String, Double> OURS = Map.of("copy", 2.0, "g1", 4.0, "g2", 1.0, "t-fails", 0.5);

    /**
     * Five cases with known FLOPs, bytes and times (ours scripted, PyTorch's from a results file): every derived number
     * is computed here by hand. copy: 4 MB in 2 ms ours (2 MB/ms), 0.5 ms PyTorch's (8 MB/ms), each side's bandwidth
     * roof. g1 (count 3): 8 GFLOP, 2 MB in 4 ms: 2 TFLOP/s, 0.5 GB/s; at a 4 TFLOP/s peak its roof is 2 ms of compute
     * (not the 1 ms of bytes): 50 %; PyTorch 2 ms (faster in channels-last). g2: 1 GFLOP, 1 MB in 1 ms: its roof is the
     * 0.5 ms of bytes (not 0.25 ms of compute); PyTorch 4 ms, where its 8 MB/ms make the compute (0.25 ms) the roof.
     * broken: our side throws, PyTorch's is there; t-fails: PyTorch's side failed.
     */
    @Test
    void runDerivesTflopsGbpsRooflineAndSpeedupFromKnownFlopsBytesAndTimes(@TempDir Path dir) throws Exception {
        Path torch = dir.resolve("torch.json"), json = dir.resolve("ops.json");
        ObjectNode t = Json.mapper().createObjectNode().put("torch", "9.9-fake").put("device", "fake GPU");
        ObjectNode res = t.putObject("results");
        res.putObject("copy").put("ms", 0.5);
        res.putObject("g1").put("ms", 2.0).put("layout", "channels_last").put("ms_nchw", 3.0).put("ms_channels_last", 2.0);
        res.putObject("g2").put("ms", 4.0).put("layout", "nchw").put("ms_nchw", 4.0).put("ms_channels_last", 4.0);
        res.putObject("broken").put("ms", 5.0);
        res.putObject("t-fails").put("error", "RuntimeError: fake");
        Files.writeString(torch, t.toString());

        WATCHED.set(json);
        CliRun r;
        try {
            r = CliRun.capture(() -> call(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(),
                    new OpBench.Options(0, 1, "none", torch, dir.resolve("no-script.py"), 4.0, json))));
        } finally {
            WATCHED.set(null);
        }
        // a run stopped part-way keeps what it timed: as each case is set up, --json holds every earlier case, timed
        assertEquals(List.of("copy 0", "g1 1", "g2 2", "t-fails 3"), SEEN);
        JsonNode report = Json.mapper().readTree(json.toFile());
        assertEquals("cpu", report.get("backend").asText());
        assertEquals("model x", report.get("model").asText(), "the header is in the report");
        assertEquals(4.0, report.get("peak_tflops").asDouble());
        assertEquals("fake GPU", report.get("torch").get("device").asText());
        assertFalse(report.get("torch").has("results"));
        JsonNode copy = row(report, "copy"), g1 = row(report, "g1"), g2 = row(report, "g2"), broken = row(report, "broken"), tf = row(report, "t-fails");

        assertEquals(List.of(2.0, 2.0, 100.0, 0.5, 8.0, 100.0, 0.25), values(copy, "ours_ms", "ours_gbps", "ours_roofline_pct", "torch_ms", "torch_gbps",
                "torch_roofline_pct", "speedup"));
        assertFalse(copy.has("ours_tflops") || copy.has("torch_tflops"), "no FLOPs, no TFLOP/s");
        assertEquals(List.of(4.0, 2.0, 0.5, 50.0, 2.0, 4.0, 1.0, 100.0, 0.5), values(g1, "ours_ms", "ours_tflops", "ours_gbps", "ours_roofline_pct",
                "torch_ms", "torch_tflops", "torch_gbps", "torch_roofline_pct", "speedup"));
        assertEquals(List.of(1.0, 1.0, 1.0, 50.0, 4.0, 0.25, 0.25, 6.25, 4.0), values(g2, "ours_ms", "ours_tflops", "ours_gbps", "ours_roofline_pct",
                "torch_ms", "torch_tflops", "torch_gbps", "torch_roofline_pct", "speedup"));
        assertEquals("channels_last", g1.get("torch_layout").asText());
        assertEquals(List.of(3.0, 2.0), values(g1, "torch_ms_nchw", "torch_ms_channels_last"));
        assertEquals("java.lang.IllegalStateException: no kernel for it", broken.get("ours_error").asText());
        assertFalse(broken.has("ours_ms") || broken.has("speedup"));
        assertEquals(5.0, broken.get("torch_ms").asDouble(), "PyTorch's side of a case ours failed is still merged");
        assertEquals("RuntimeError: fake", tf.get("torch_error").asText());
        assertFalse(tf.has("torch_ms") || tf.has("speedup"));
        assertEquals(8, tf.get("count").asInt());
        // per group, over the cases with both times: time weighted by count, and the geometric mean of the speedups
        JsonNode gemm = report.get("group_totals").get("gemm");
        assertNear(List.of(13.0, 10.0, 2.0, 10.0 / 13, Math.sqrt(2)), values(gemm, "ours_ms", "torch_ms", "cases", "speedup", "geomean_speedup"));
        assertEquals(List.of(2.0, 0.5, 1.0, 0.25, 0.25), values(report.get("group_totals").get("copy"), "ours_ms", "torch_ms", "cases", "speedup", "geomean_speedup"));
        // g1 faster in channels-last (3 ms NCHW, 2 ms), g2 the same either way (not faster)
        assertNear(List.of(2.0, 1.0, Math.sqrt(1.5)), values(report.get("torch_conv_layouts"), "cases", "channels_last_faster", "geomean_nchw_over_channels_last"));

        // what the user reads: a row per case, the failures said, the PyTorch build, the totals; progress and the file on stderr
        List<String> out = r.out().lines().toList();
        assertEquals(List.of("case", "count", "ours", "ms", "TFLOP/s", "GB/s", "roof%", "torch", "ms", "TFLOP/s", "speedup", "GEMM", "path"), words(out.get(0)));
        assertEquals(List.of("copy", "1", "2.0000", "2.0", "100", "0.5000", "0.25"), words(out.get(1)));
        assertEquals(List.of("g1", "3", "4.0000", "2.00", "0.5", "50", "2.0000", "4.00", "0.50"), words(out.get(2)));
        assertEquals(List.of("g2", "1", "1.0000", "1.00", "1.0", "50", "4.0000", "0.250", "4.00"), words(out.get(3)));
        assertEquals(List.of("broken", "1", "FAILED", "5.0000", "-"), words(out.get(4)));
        assertEquals(List.of("t-fails", "8", "0.5000", "FAILED", "-"), words(out.get(5)));
        assertEquals("PyTorch 9.9-fake on fake GPU", out.get(6));
        assertTrue(out.contains("PyTorch convolutions in both layouts (torch ms is the faster): channels-last faster in 1 of 2 cases;"
                + " geometric mean of NCHW ms / channels-last ms 1.225"), r.out());
        assertTrue(out.contains("gemm: ours 13.000 ms, torch 10.000 ms over 2 cases weighted by count: speedup 0.77; geometric mean of the cases'"
                + " speedups 1.414"), r.out());
        assertTrue(r.err().startsWith("bench gemm: test: 5 cases, warmup 0, iters 1" + System.lineSeparator() + "  copy: 2.0000 ms"), r.err());
        assertTrue(r.err().contains("  broken: FAILED java.lang.IllegalStateException: no kernel for it"), r.err());
        assertTrue(r.err().strip().endsWith("wrote " + json), r.err());
    }

    /**
     * PyTorch results that cannot be torch_ops.py's output for these cases are refused, a results file before anything
     * is timed: not JSON, empty, not an object with "results", an "ms" that is not a positive number, ids matching none
     * of the cases. Results for none of the cases because there are none is no refusal.
     */
    @Test
    void pyTorchResultsThatCannotBeForTheseCasesAreRefused(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("torch.json");
        for (String[] bad : new String[][]{{"{oops", "not valid JSON: "}, {"", "expected torch_ops.py's output"}, {"[1, 2]", "expected torch_ops.py's output"},
                {"{\"results\": 3}", "expected torch_ops.py's output"}}) {
            Files.writeString(f, bad[0]);
            AtomicInteger prepared = new AtomicInteger();
            OpCase c = new OpCase("c", "g", spec("linear"), 1, 1, 1, be -> { prepared.incrementAndGet(); return () -> {}; });
            assertRefused("--torch-results " + f + ": " + bad[1], () -> OpBench.run(CpuBackend.get(), "bench gemm: test", header(), List.of(c),
                    new OpBench.Options(0, 1, "none", f, null, null, null)));
            assertEquals(0, prepared.get(), bad[0] + ": refused before timing");
        }
        for (String ms : new String[]{"0", "-1", "\"fast\""}) {
            Files.writeString(f, "{\"results\": {\"g1\": {\"ms\": " + ms + "}}}");
            assertRefused("PyTorch results, case 'g1': \"ms\" must be a positive number, found " + ms, () -> callQuietly(() -> OpBench.run(scripted(null),
                    "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, "none", f, null, null, null))));
        }
        Files.writeString(f, "{\"results\": {\"a case of another model\": {\"ms\": 1.0}}}");
        assertRefused("the PyTorch results (" + f + ") match none of the 5 cases by id: timed for another model, preset or --frames?",
                () -> callQuietly(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, "none", f, null, null, null))));
        assertEquals(0, callQuietly(() -> OpBench.run(scripted(null), "bench gemm: test", header(), List.of(), new OpBench.Options(0, 1, "none", f, null, null, null)))
                .get("cases").size(), "no cases, nothing to match");
        Files.writeString(f, "{\"results\": {}}");
        assertFalse(callQuietly(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, "none", f, null, null, null)))
                .get("cases").get(1).has("torch_ms"), "no results, none merged");
    }

    /**
     * The PyTorch side when no results file is given: --torch none and a missing script skip it saying why; a python that
     * writes results is run on the cases file with the device, warm-up and iterations, and what it wrote is merged even
     * when it exits non-zero; one that writes nothing, or cannot be run, is said to have written no results; auto is
     * python3 (probed: here or not, it is the python named).
     */
    @Test
    void thePyTorchSideRunsTheScriptOrSaysWhyNot(@TempDir Path dir) throws Exception {
        Path script = Files.writeString(dir.resolve("torch_ops.py"), "# stands in for the script: the stand-in python reads no file\n");
        CliRun none = CliRun.capture(() -> call(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, "none", null, script, null, null))));
        assertTrue(none.err().contains("PyTorch side skipped: --torch none"), none.err());
        assertTrue(none.out().contains(System.lineSeparator() + "PyTorch side skipped: --torch none" + System.lineSeparator()), none.out());
        assertFalse(none.out().contains("geometric mean"), "no PyTorch times, no totals: " + none.out());
        Path noScript = dir.resolve("absent.py");
        assertEquals("no script at " + noScript, skipped(new OpBench.Options(0, 1, "/bin/true", null, noScript, null, null)));

        Path python = dir.resolve("python"), argsSeen = dir.resolve("args.txt"), json = dir.resolve("ops.json");
        standInPython(python, argsSeen, 1, "{\"torch\": \"0.0-sh\", \"device\": \"sh\", \"results\": {\"copy\": {\"ms\": 1.0}, \"g1\": {\"ms\": 8.0}}}");
        CliRun r = CliRun.capture(() -> call(() -> OpBench.run(scripted("cuda"), "bench kernels: test", header(), cases(),
                new OpBench.Options(2, 3, python.toString(), null, script, null, json))));
        assertEquals(List.of(script.toString(), json.toString(), json.resolveSibling("ops.json.torch.json").toString(), "--device", "cuda", "--warmup", "2",
                "--iters", "3"), List.of(Files.readString(argsSeen).strip().split(" ")));
        assertTrue(r.err().contains("PyTorch side: " + python + " " + script + System.lineSeparator()), r.err());
        assertTrue(r.err().contains("PyTorch script exited with 1; merging the cases it finished"), r.err());
        assertTrue(Files.isRegularFile(json.resolveSibling("ops.json.torch.json")), "kept beside --json");
        JsonNode report = Json.mapper().readTree(json.toFile());
        assertEquals("0.0-sh", report.get("torch").get("torch").asText());
        assertEquals(2.0, row(report, "g1").get("speedup").asDouble());
        assertFalse(row(report, "g2").has("torch_ms"));
        assertFalse(report.has("torch_conv_layouts"), "no convolution timed both ways");

        standInPython(python, argsSeen, 4, null);
        assertEquals(python + " torch_ops.py exited with 4 and wrote no results", skipped(new OpBench.Options(0, 1, python.toString(), null, script, null, null)));
        Path absent = dir.resolve("no-python");
        CliRun cannot = CliRun.capture(() -> call(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, absent.toString(), null, script, null, null))));
        assertTrue(cannot.err().contains("cannot run " + absent + ": "), cannot.err());
        assertTrue(cannot.err().contains("PyTorch side skipped: " + absent + " torch_ops.py exited with -1 and wrote no results"), cannot.err());
        String auto = skipped(new OpBench.Options(0, 1, "auto", null, script, null, null));
        assertTrue(auto.startsWith("python3 "), auto);
    }

    /**
     * An earlier report finished without timing: PyTorch merged afresh (what an earlier merge derived is gone), the
     * script run on the report's cases, the peak the report was timed with kept unless another is given; a file that is
     * not a report of this command is refused naming it and what is wrong.
     */
    @Test
    void finishEarlierDerivesAgainFromTheReportsTimesAndRefusesOtherFiles(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("ops.json"), torch = dir.resolve("torch.json"), later = dir.resolve("later.json");
        Files.writeString(torch, "{\"results\": {\"g1\": {\"ms\": 2.0}, \"g2\": {\"ms\": 4.0}}}");
        callQuietly(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), new OpBench.Options(0, 1, "none", torch, dir.resolve("no-script.py"), 4.0, json)));
        Files.writeString(torch, "{\"results\": {\"g1\": {\"ms\": 8.0}}}");
        CliRun r = CliRun.capture(() -> call(() -> OpBench.finishEarlier(json, "bench gemm", new OpBench.Options(0, 1, "none", torch, null, null, later))));
        assertTrue(r.err().startsWith("bench: bench gemm: test, our times from " + json), r.err());
        JsonNode again = Json.mapper().readTree(later.toFile());
        assertEquals(List.of(4.0, 8.0, 2.0, 50.0, 1.0), values(row(again, "g1"), "ours_ms", "torch_ms", "speedup", "ours_roofline_pct", "torch_tflops"));
        assertFalse(row(again, "g2").has("torch_ms") || row(again, "g2").has("speedup") || row(again, "g2").has("torch_tflops"), "g2's old merge is gone");
        assertEquals(4.0, again.get("peak_tflops").asDouble());
        assertEquals(List.of(12.0, 24.0, 1.0), values(again.get("group_totals").get("gemm"), "ours_ms", "torch_ms", "cases"));
        JsonNode other = callQuietly(() -> OpBench.finishEarlier(json, "bench gemm", new OpBench.Options(0, 1, "none", torch, null, 2.0, later)));
        assertEquals(List.of(2.0, 100.0), List.of(other.get("peak_tflops").asDouble(), row(other, "g1").get("ours_roofline_pct").asDouble()),
                "--peak-tflops given again wins: at 2 TFLOP/s g1's 8 GFLOP take 4 ms, all of its time");
        // the script runs on the report's cases, whether --json names another file or none
        Path python = dir.resolve("python"), argsSeen = dir.resolve("args.txt");
        standInPython(python, argsSeen, 0, "{\"results\": {\"g2\": {\"ms\": 3.0}}}");
        Path script = Files.writeString(dir.resolve("torch_ops.py"), "# the stand-in python reads no script\n");
        for (Path to : new Path[]{later, null}) {
            Files.deleteIfExists(dir.resolve("cases-seen.json"));   // each pass's own
            JsonNode viaScript = callQuietly(() -> OpBench.finishEarlier(json, "bench gemm", new OpBench.Options(0, 1, python.toString(), null, script, null, to)));
            assertEquals(3.0, row(viaScript, "g2").get("speedup").asDouble());
            assertEquals(5, Json.mapper().readTree(dir.resolve("cases-seen.json").toFile()).get("cases").size(), "the script read the cases");
        }

        Path notJson = Files.writeString(dir.resolve("not.json"), "{oops");
        assertRefused(notJson + ": cannot read it as JSON (", () -> OpBench.finishEarlier(notJson, "bench gemm", noTorch()));
        for (String notReport : new String[]{"{\"results\": {}, \"backend\": \"cpu\"}", "[{\"backend\": \"cpu\", \"cases\": []}]", "{\"cases\": []}"}) {
            Path f = Files.writeString(dir.resolve("results.json"), notReport);
            assertRefused(f + ": not the --json report of bench gemm or bench kernels", () -> OpBench.finishEarlier(f, "bench gemm", noTorch()));
        }
        assertRefused(json + ": not a report of bench kernels (its \"what\" is \"bench gemm: test\"); finish it with the command that wrote it",
                () -> OpBench.finishEarlier(json, "bench kernels", noTorch()));
        Path noWhat = Files.writeString(dir.resolve("no-what.json"), "{\"backend\": \"cpu\", \"cases\": []}");
        assertRefused(noWhat + ": not a report of bench gemm (its \"what\" is missing)", () -> OpBench.finishEarlier(noWhat, "bench gemm", noTorch()));
        for (String field : new String[]{"id", "flops", "bytes", "spec"}) {
            ObjectNode cut = (ObjectNode) Json.mapper().readTree(json.toFile());
            ((ObjectNode) cut.get("cases").get(1)).remove(field);
            Path lacking = Files.writeString(dir.resolve("no-" + field + ".json"), cut.toString());
            assertRefused(lacking + ": case " + (field.equals("id") ? "#" : "g1") , () -> OpBench.finishEarlier(lacking, "bench gemm", noTorch()));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> OpBench.finishEarlier(lacking, "bench gemm", noTorch())).getMessage()
                    .endsWith(" lacks id, flops, bytes or spec"), field);
        }
    }

    /** Cases whose ids clash are refused before anything is timed (PyTorch's results merge by id). */
    @Test
    void casesSharingAnIdAreRefusedBeforeTiming() {
        AtomicInteger prepared = new AtomicInteger();
        OpCase a = new OpCase("same", "g", spec("linear"), 1, 1, 1, be -> { prepared.incrementAndGet(); return () -> {}; });
        var e = assertThrows(IllegalStateException.class, () -> OpBench.run(CpuBackend.get(), "bench gemm: test", header(), List.of(a, a), noTorch()));
        assertEquals("two benchmark cases share the id 'same' (PyTorch results merge by id)", e.getMessage());
        assertEquals(0, prepared.get());
    }

    /** A stand-in for python: records its arguments, copies the cases file it is given, writes {@code results} (if any) as its output, exits {@code rc}. */
    private static void standInPython(Path python, Path argsSeen, int rc, String results) throws Exception {
        shellScript(python, "echo \"$@\" > '" + argsSeen + "'\ncp \"$2\" '" + argsSeen.resolveSibling("cases-seen.json") + "'\n"
                + (results == null ? "" : "echo '" + results + "' > \"$3\"\n") + "exit " + rc);
    }

    private static String skipped(OpBench.Options o) {
        return callQuietly(() -> OpBench.run(scripted(null), "bench gemm: test", header(), cases(), o)).get("torch").get("skipped").asText();
    }

    private static OpBench.Options noTorch() {
        return new OpBench.Options(0, 1, "none", null, null, null, null);
    }

    /** The --json file a run writes, when a test watches it: each timed case's setup notes how many cases it holds timed. */
    private static final AtomicReference<Path> WATCHED = new AtomicReference<>();
    private static final List<String> SEEN = new ArrayList<>();
    private static final AtomicReference<String> CURRENT = new AtomicReference<>();

    private static List<OpCase> cases() {
        SEEN.clear();
        return List.of(
                timed("copy", "copy", "copy", 0, 4_000_000, 1),
                timed("g1", "gemm", "linear", 8_000_000_000L, 2_000_000, 3),
                timed("g2", "gemm", "linear", 1_000_000_000L, 1_000_000, 1),
                new OpCase("broken", "gemm", spec("linear"), 0, 0, 1, be -> { throw new IllegalStateException("no kernel for it"); }),
                timed("t-fails", "gemm", "linear", 0, 0, 8));
    }

    private static OpCase timed(String id, String group, String kind, long flops, long bytes, int count) {
        return new OpCase(id, group, spec(kind), flops, bytes, count, be -> {
            Path watched = WATCHED.get();
            if (watched != null) {
                try {
                    int n = 0;
                    for (JsonNode r : Json.mapper().readTree(watched.toFile()).get("cases")) if (r.has("ours_ms")) n++;
                    SEEN.add(id + " " + n);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return () -> CURRENT.set(id);
        });
    }

    /** The CPU backend with timeMillis scripted from OURS (by the case whose op it runs) and, given one, another name. */
    private static Backend scripted(String name) {
        return WatchedBackend.of(CpuBackend.get(), (m, args, next) -> {
            if (m.getName().equals("name") && name != null) return name;
            if (!m.getName().equals("timeMillis")) return next.run();
            ((Runnable) args[0]).run();
            return OURS.get(CURRENT.get());
        });
    }

    private static ObjectNode spec(String kind) {
        return Json.mapper().createObjectNode().put("kind", kind);
    }

    private static ObjectNode header() {
        return Json.mapper().createObjectNode().put("model", "model x");
    }

    private static JsonNode row(JsonNode report, String id) {
        for (JsonNode r : report.get("cases")) if (r.get("id").asText().equals(id)) return r;
        throw new AssertionError("no case " + id + " in " + report);
    }

    private static List<Double> values(JsonNode n, String... fields) {
        List<Double> l = new ArrayList<>();
        for (String f : fields) {
            assertTrue(n.has(f), f + " missing in " + n);
            l.add(n.get(f).asDouble());
        }
        return l;
    }

    private static void assertNear(List<Double> expected, List<Double> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) assertEquals(expected.get(i), actual.get(i), 1e-12 * Math.abs(expected.get(i)), "value " + i + " of " + actual);
    }

    /** The torch probe gives up at its limit, even on a python that never ends; a failed import is said by its last line. */
    @Test
    void theTorchProbeGivesUpAtItsLimitAndSaysWhyTorchIsNotThere(@TempDir Path dir) throws Exception {
        Path hangs = shellScript(dir.resolve("hangs"), "exec sleep 60");
        String why = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> OpBench.probe(hangs.toString(), "cuda", 1));
        assertEquals(hangs + " -c 'import torch' did not finish in 1 s", why);
        Path fails = shellScript(dir.resolve("fails"), "echo Traceback; echo \"ModuleNotFoundError: No module named 'torch'\"; exit 1");
        assertEquals(fails + " cannot import torch (ModuleNotFoundError: No module named 'torch')", OpBench.probe(fails.toString(), "cpu", 30));
        assertEquals("torch is importable but sees no CUDA device", OpBench.probe(shellScript(dir.resolve("no-gpu"), "exit 3").toString(), "cuda", 30));
        assertNull(OpBench.probe(shellScript(dir.resolve("has-torch"), "exit 0").toString(), "cpu", 30));
        assertTrue(OpBench.probe(dir.resolve("absent").toString(), "cpu", 30).startsWith(dir.resolve("absent") + " not found ("));
    }

    private static Path shellScript(Path file, String body) throws Exception {
        Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        assertTrue(file.toFile().setExecutable(true));
        return file;
    }

    private static List<String> words(String line) {
        return List.of(line.strip().split("\\s+"));
    }

    private interface Call {
        JsonNode get() throws Exception;
    }

    private static int call(Call c) {
        try {
            c.get();
            return 0;
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** The result of {@code c}, with what it prints captured (not shown). */
    private static ObjectNode callQuietly(Call c) {
        AtomicReference<JsonNode> got = new AtomicReference<>();
        CliRun.capture(() -> call(() -> {
            got.set(c.get());
            return null;
        }));
        return (ObjectNode) got.get();
    }
}
