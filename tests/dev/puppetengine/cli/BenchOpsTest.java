package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench gemm and bench kernels on the CPU with the toy preset: the recorded products and the config-derived kernel
 * shapes are the model's, every case runs, JSON is written and PyTorch results merge by id (never a timing assertion).
 */
class BenchOpsTest {
    private static final ModelPresets TOY = ModelPresets.named("toy");
    private static final int FRAMES = 2;

    @Test
    void benchGemmRecordsTheModelsProductsIncludingBackward(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("gemm.json");
        // a named python that does not exist is refused before anything is timed
        assertEquals(2, Main.run("bench", "gemm", "--preset", "toy", "--device", "cpu", "--torch", dir.resolve("no-such-python").toString()));
        // one that runs but cannot import torch: every case timed, the PyTorch side skipped saying why
        Path python = dir.resolve("no-torch-python");
        Files.writeString(python, "#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 1\n");
        assertTrue(python.toFile().setExecutable(true));
        assertEquals(0, Main.run("bench", "gemm", "--preset", "toy", "--device", "cpu", "--frames", "" + FRAMES, "--warmup", "0", "--iters", "1",
                "--square", "32", "--torch", python.toString(), "--json", json.toString()));
        JsonNode r = Json.mapper().readTree(json.toFile());
        List<JsonNode> cases = list(r.get("cases"));
        for (JsonNode c : cases) assertTrue(c.get("ours_ms").asDouble() > 0 && !c.has("ours_error"), c.toString());
        assertTrue(r.get("torch").get("skipped").asText().contains("no-torch-python"), r.get("torch").toString());
        assertEquals(0, r.get("recording_errors").size(), "both recorded passes ran to the end: " + r.get("recording_errors"));
        // the report finished again later (--ours-results) is not recorded or timed again
        Path later = dir.resolve("later.json");
        String again = CliRun.stderrOf(0, "bench", "gemm", "--ours-results", json.toString(), "--torch", "none", "--json", later.toString());
        assertFalse(again.contains("recording") || again.contains("cases, warmup"), again);
        assertEquals(cases.size(), Json.mapper().readTree(later.toFile()).get("cases").size());

        UNetConfig u = TOY.unet();
        int side = TOY.resolution() / TOY.vae().downscaleFactor(), c0 = u.blockOutChannels().get(0);
        // conv_in: the 8 input channels (noisy + conditioning latents) at batch 2 x frames, once per forward
        JsonNode convIn = one(cases, c -> is(c, "cfg-b2", "conv2d", "forward") && ints(c, "w").equals(List.of(c0, 3, 3, u.inChannels())));
        assertEquals(List.of(2 * FRAMES, side, side, u.inChannels()), ints(convIn, "x"));
        assertEquals(1, convIn.get("count").asInt());
        assertEquals(2L * 2 * FRAMES * side * side * c0 * 9 * u.inChannels(), convIn.get("flops").asLong());
        // proj_in / to_q of the first level: hidden size x hidden size over every token of every frame
        assertFalse(all(cases, c -> is(c, "cfg-b2", "linear", "forward") && spec(c, "m") == 2 * FRAMES * side * side
                && spec(c, "k") == c0 && spec(c, "n") == c0).isEmpty());
        assertFalse(all(cases, c -> is(c, "cfg-b2", "conv2d", "forward") && c.get("spec").get("temporal").asBoolean()
                && ints(c, "w").equals(List.of(c0, 3, 1, c0))).isEmpty(), "temporal conv at level 0");
        // the fused epilogues are recorded as run: sampling's feed-forward projection with the GEGLU gate (n = 8C), the
        // out-projections and resnet conv2 with their residuals; training records the GEGLU projection plain
        Predicate<JsonNode> ffProj = c -> spec(c, "k") == c0 && spec(c, "n") == 8 * c0;
        assertEquals("geglu", one(cases, c -> is(c, "cfg-b2", "linear", "forward") && ffProj.test(c)).get("spec").get("epilogue").asText());
        assertEquals("none", one(cases, c -> is(c, "train-b1", "linear", "forward") && ffProj.test(c)).get("spec").get("epilogue").asText());
        for (String group : new String[]{"cfg-b2", "train-b1"})
            for (String kind : new String[]{"linear", "conv2d"})
                assertFalse(all(cases, c -> is(c, group, kind, "forward") && c.get("spec").get("epilogue").asText().equals("residual")).isEmpty(),
                        group + " " + kind + " with a residual");
        // training: both gradient products; conv_in's input needs no gradient, its weight does
        for (String kind : new String[]{"linear", "conv2d"})
            for (String pass : new String[]{"forward", "backward_input", "backward_weight"})
                assertFalse(all(cases, c -> is(c, "train-b1", kind, pass)).isEmpty(), kind + " " + pass);
        Predicate<JsonNode> convInW = c -> c.get("spec").get("kind").asText().equals("conv2d") && ints(c, "w").equals(List.of(c0, 3, 3, u.inChannels()));
        assertTrue(all(cases, c -> is(c, "train-b1", "conv2d", "backward_input") && convInW.test(c)).isEmpty());
        assertEquals(List.of(FRAMES, side, side, u.inChannels()), ints(one(cases, c -> is(c, "train-b1", "conv2d", "backward_weight") && convInW.test(c)), "x"));
        // every weight is trainable, so each forward product has exactly one weight-gradient product of the same FLOPs
        assertEquals(flops(all(cases, c -> is(c, "train-b1", null, "forward"))), flops(all(cases, c -> is(c, "train-b1", null, "backward_weight"))));
        assertTrue(all(cases, c -> is(c, "cfg-b2", null, "backward_input")).isEmpty(), "sampling runs no backward");
        JsonNode sq = one(cases, c -> c.get("group").asText().equals("square"));
        assertEquals("BF16", sq.get("spec").get("dtype").asText());
        assertEquals(2L * 32 * 32 * 32, sq.get("flops").asLong());
        assertEquals("copy", cases.get(0).get("spec").get("kind").asText());
        torchScriptRunsOneCaseOfEachKind(cases, dir);
    }

    /** Without --square the CPU gets no square products (an 8192^3 one takes minutes there); bad sizes are refused. */
    @Test
    void benchGemmOnTheCpuAddsNoSquaresByDefault(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("gemm.json");
        assertEquals(2, Main.run("bench", "gemm", "--preset", "toy", "--device", "cpu", "--square", "0", "--torch", "none"));
        String said = CliRun.stderrOf(0, "bench", "gemm", "--preset", "toy", "--device", "cpu", "--frames", "1", "--no-train", "--warmup", "0", "--iters", "1",
                "--torch", "none", "--json", json.toString());
        assertTrue(said.lines().anyMatch(l -> l.equals("bench gemm: preset toy (toy-random), 1 frames, latents 8x8, cpu F32: recording a CFG forward")), said);
        List<JsonNode> cases = list(Json.mapper().readTree(json.toFile()).get("cases"));
        assertTrue(cases.size() > 5, "the model's products ran");
        assertTrue(all(cases, c -> c.get("group").asText().equals("square")).isEmpty());
        assertTrue(all(cases, c -> c.get("group").asText().equals("train-b1")).isEmpty(), "--no-train records no training step");

        Path badTorch = Files.writeString(dir.resolve("torch.json"), "[1, 2]");   // refused before anything is timed
        String err = CliRun.stderrOf(2, "bench", "gemm", "--preset", "toy", "--device", "cpu", "--frames", "1", "--no-train", "--torch-results", badTorch.toString());
        assertFalse(err.contains("cases, warmup"), err);
    }

    @Test
    void benchKernelsTakesEveryLevelsShapesFromTheConfigAndMergesTorchResults(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("kernels.json");
        String[] args = {"bench", "kernels", "--preset", "toy", "--device", "cpu", "--frames", "" + FRAMES, "--warmup", "0", "--iters", "1",
                "--torch", "none", "--json", json.toString()};
        assertEquals(0, Main.run(args));
        List<JsonNode> cases = list(Json.mapper().readTree(json.toFile()).get("cases"));
        UNetConfig u = TOY.unet();
        int side = TOY.resolution() / TOY.vae().downscaleFactor(), levels = u.blockOutChannels().size();
        for (int i = 0; i < levels; i++) {
            int c = u.blockOutChannels().get(i), s = side >> i, lvl = i, ctx = i < levels - 1 ? 1 + u.numDrags() : 1;   // mid block: CLIP token only
            JsonNode a2f = one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " ") && k.get("spec").path("variant").asText().equals("all_to_first")
                    && k.get("spec").get("pass").asText().equals("forward"));
            assertEquals(List.of(2 * FRAMES, 2, s * s, s * s, c, u.numAttentionHeads().get(i)),
                    List.of(spec(a2f, "bq"), spec(a2f, "bk"), spec(a2f, "lq"), spec(a2f, "lk"), spec(a2f, "c"), spec(a2f, "heads")));
            assertEquals(4L * 2 * FRAMES * s * s * s * s * c, a2f.get("flops").asLong());
            JsonNode cross = one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " attn cross fwd"));
            assertEquals(ctx, spec(cross, "lk"));
            one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " attn temporal bwd") && spec(k, "lq") == FRAMES && spec(k, "bq") == 2 * s * s);
            JsonNode gn5 = one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " groupnorm+silu 5-D fwd"));
            assertEquals(List.of(2, FRAMES, s, s, c), ints(gn5, "shape"));
            assertEquals(i < levels - 1 ? 2 : 0, all(cases, k -> k.get("id").asText().startsWith("L" + lvl + " film")).size(), "FiLM only at drag levels");
            assertEquals(3, all(cases, k -> k.get("id").asText().startsWith("L" + lvl + " tconv3x1x1")).size());
            JsonNode geglu = one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " linear+geglu"));
            assertEquals(List.of(2 * FRAMES * s * s, 8 * c, c), List.of(spec(geglu, "m"), spec(geglu, "n"), spec(geglu, "k")));
            assertEquals(2L * 2 * FRAMES * s * s * 8 * c * c, geglu.get("flops").asLong());
            one(cases, k -> k.get("id").asText().startsWith("L" + lvl + " linear+residual") && spec(k, "n") == c);
        }
        for (JsonNode c : cases) assertTrue(c.get("ours_ms").asDouble() > 0, c.toString());

        // a PyTorch results file written separately merges by id into the speedup column
        ObjectNode fake = Json.mapper().createObjectNode().put("torch", "9.9-fake").put("device", "fake GPU");
        ObjectNode res = fake.putObject("results");
        for (JsonNode c : cases) res.putObject(c.get("id").asText()).put("ms", 2.5);
        res.putObject(cases.get(1).get("id").asText()).put("error", "RuntimeError: fake");
        // convolutions also timed in channels-last (torch_ops.py's second pass): 3 faster that way, 1 not
        List<JsonNode> convs = all(cases, k -> k.get("spec").get("kind").asText().equals("conv2d"));
        double[][] layouts = {{4, 2}, {3, 1}, {2, 1}, {1, 2}};
        for (int i = 0; i < layouts.length; i++)
            ((ObjectNode) res.get(convs.get(i).get("id").asText())).put("ms", Math.min(layouts[i][0], layouts[i][1]))
                    .put("ms_nchw", layouts[i][0]).put("ms_channels_last", layouts[i][1]).put("layout", layouts[i][1] < layouts[i][0] ? "channels_last" : "nchw");
        Path fakeFile = dir.resolve("torch.json");
        Files.writeString(fakeFile, fake.toString());
        List<String> a = new ArrayList<>(List.of(args));
        int at = a.indexOf("--torch");
        a.set(at, "--torch-results");
        a.set(at + 1, fakeFile.toString());
        assertEquals(0, Main.run(a.toArray(new String[0])));
        JsonNode r = Json.mapper().readTree(json.toFile());
        assertEquals("fake GPU", r.get("torch").get("device").asText());
        List<JsonNode> merged = list(r.get("cases"));
        assertEquals("RuntimeError: fake", merged.get(1).get("torch_error").asText());
        assertFalse(merged.get(1).has("speedup"));
        JsonNode first = merged.get(2);
        assertEquals(2.5 / first.get("ours_ms").asDouble(), first.get("speedup").asDouble(), 1e-9);
        JsonNode conv = one(merged, k -> k.get("id").asText().equals(convs.get(1).get("id").asText()));
        assertEquals(1.0, conv.get("torch_ms").asDouble());
        assertEquals("channels_last", conv.get("torch_layout").asText());
        assertEquals(3.0, conv.get("torch_ms_nchw").asDouble());
        JsonNode lay = r.get("torch_conv_layouts");
        assertEquals(4, lay.get("cases").asInt(), lay.toString());
        assertEquals(3, lay.get("channels_last_faster").asInt());
        assertEquals(Math.pow(2.0 * 3 * 2 * 0.5, 0.25), lay.get("geomean_nchw_over_channels_last").asDouble(), 1e-12);
        assertTrue(r.get("group_totals").get("attention").get("speedup").asDouble() > 0, r.get("group_totals").toString());
        // the geometric mean of the group's per-case speedups (issue 5's metric), each case once whatever its count
        double logs = 0;
        int n = 0;
        for (JsonNode c : merged)
            if (c.get("group").asText().equals("attention") && c.has("speedup")) { logs += Math.log(c.get("speedup").asDouble()); n++; }
        assertEquals(n, r.get("group_totals").get("attention").get("cases").asInt());
        assertEquals(Math.exp(logs / n), r.get("group_totals").get("attention").get("geomean_speedup").asDouble(), 1e-12);

        // a report finished later (--ours-results: say the run stopped while PyTorch was timing) times nothing again:
        // the same times, the same merge, whatever an earlier merge had put there
        Path later = dir.resolve("later.json");
        res.putObject(first.get("id").asText()).put("ms", 7.0);
        Files.writeString(fakeFile, fake.toString());
        assertEquals(0, Main.run("bench", "kernels", "--ours-results", json.toString(), "--torch-results", fakeFile.toString(), "--json", later.toString()));
        JsonNode again = Json.mapper().readTree(later.toFile());
        List<JsonNode> redone = list(again.get("cases"));
        assertEquals(merged.size(), redone.size());
        for (int i = 0; i < merged.size(); i++) assertEquals(merged.get(i).get("ours_ms"), redone.get(i).get("ours_ms"));
        assertEquals(7.0 / first.get("ours_ms").asDouble(), redone.get(2).get("speedup").asDouble(), 1e-9);
        assertEquals(r.get("torch_conv_layouts"), again.get("torch_conv_layouts"));
        assertEquals(r.get("peak_tflops"), again.get("peak_tflops"));
        // a report cut short while our side was timing (rewritten after every case): the cases it has, the rest absent
        ObjectNode cut = (ObjectNode) Json.mapper().readTree(json.toFile());
        ArrayNode some = cut.putArray("cases");
        for (int i = 0; i < 5; i++) some.add(((ObjectNode) merged.get(i).deepCopy()));
        ((ObjectNode) some.get(4)).remove("ours_ms");
        Path partial = dir.resolve("partial.json");
        Files.writeString(partial, cut.toString());
        assertEquals(0, Main.run("bench", "kernels", "--ours-results", partial.toString(), "--torch", "none", "--json", partial.toString()));
        JsonNode finished = Json.mapper().readTree(partial.toFile());
        assertEquals(5, finished.get("cases").size());
        assertFalse(finished.get("cases").get(2).has("speedup"), "no PyTorch side, no stale speedup");
        assertTrue(finished.get("torch").get("skipped").asText().contains("--torch none"));
        // PyTorch results that cannot be what torch_ops.py wrote for these cases are refused, not merged as "PyTorch ? on ?"
        Path noResults = dir.resolve("no-results.json"), textMs = dir.resolve("text-ms.json"), otherIds = dir.resolve("other-ids.json");
        Files.writeString(noResults, "[1, 2]");
        ObjectNode t = Json.mapper().createObjectNode();
        t.putObject("results").putObject(first.get("id").asText()).put("ms", "fast");
        Files.writeString(textMs, t.toString());
        t = Json.mapper().createObjectNode();
        t.putObject("results").putObject("a case of another model").put("ms", 1.0);
        Files.writeString(otherIds, t.toString());
        for (Path f : new Path[]{noResults, textMs, otherIds, dir.resolve("absent.json")})
            assertEquals(2, Main.run("bench", "kernels", "--ours-results", json.toString(), "--torch-results", f.toString()), f.toString());
        // not a report: refused naming the file and what was expected
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"results\": {}}");
        CliRun notReport = CliRun.of("bench", "kernels", "--ours-results", bad.toString(), "--torch", "none");
        assertTrue(notReport.code() != 0, "a file that is not a report must fail");
        assertTrue(notReport.err().contains(bad.toString()) && notReport.err().contains("\"cases\" array"), notReport.err());
        // bench kernels' report is not finished by bench gemm (its cases would be printed under the other command's name)
        String otherBench = CliRun.stderrOf(2, "bench", "gemm", "--ours-results", json.toString(), "--torch", "none");
        assertTrue(otherBench.contains("not a report of bench gemm") && otherBench.contains("\"bench kernels: "), otherBench);
        torchScriptRunsOneCaseOfEachKind(cases, dir);
    }

    /**
     * With --model bench kernels takes that directory's UNet config (the report names the directory and its kind) and,
     * without --frames, the config's num_frames; the device copy, the roofline, comes first.
     */
    @Test
    void benchKernelsTakesAModelDirectorysShapesAndFrames(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("kernels.json");
        UNetConfig u = UNetConfig.tiny(8, 5, 16);
        Path model = TinyModel.write(dir.resolve("tiny"), u, "tiny-five-frames");
        CliRun run = CliRun.of("bench", "kernels", "--model", model.toString(), "--device", "cpu", "--batch", "1", "--warmup", "0", "--iters", "1",
                "--torch", "none", "--json", json.toString());
        assertEquals(0, run.code(), run.err());
        JsonNode r = Json.mapper().readTree(json.toFile());
        int frames = u.numFrames(), side = TinyModel.SIDE / VaeConfig.tiny(8).downscaleFactor();
        assertEquals(model.toString(), r.get("model").asText());
        assertEquals(List.of(1, frames, side), List.of(r.get("batch").asInt(), r.get("frames").asInt(), r.get("latent_side").asInt()), r.toString());
        assertTrue(r.get("what").asText().startsWith("bench kernels: " + model + " (tiny-five-frames), batch 1, " + frames + " frames, latents "
                + side + "x" + side + ", "), r.get("what").asText());
        List<JsonNode> cases = list(r.get("cases"));
        assertEquals("copy", cases.get(0).get("spec").get("kind").asText());
        JsonNode temporal = one(cases, k -> k.get("id").asText().startsWith("L0 attn temporal fwd"));
        assertEquals(List.of(side * side, frames), List.of(spec(temporal, "bq"), spec(temporal, "lq")), "temporal attention over every frame");
    }

    /**
     * Where python3 imports torch (a CPU build is enough), runs torch_ops.py on one case of each kind/pass/variant and
     * requires a time for each: the script is otherwise only ever run on the GPU machine, where a typo costs a visit.
     */
    private static void torchScriptRunsOneCaseOfEachKind(List<JsonNode> cases, Path dir) throws Exception {
        try {
            Process probe = new ProcessBuilder("python3", "-c", "import torch").redirectErrorStream(true).start();
            probe.getInputStream().readAllBytes();
            if (probe.waitFor() != 0) {
                System.err.println("torch_ops.py not run: python3 cannot import torch");
                return;
            }
        } catch (IOException e) {
            System.err.println("torch_ops.py not run: no python3");
            return;
        }
        Map<String, JsonNode> one = new LinkedHashMap<>();
        for (JsonNode c : cases) {
            JsonNode s = c.get("spec");
            one.putIfAbsent(s.get("kind").asText() + s.get("pass").asText() + s.path("variant").asText() + s.path("temporal").asText()
                    + s.path("ta").asText() + s.path("tb").asText() + s.path("bias").asText() + s.path("epilogue").asText() + s.path("shape").size(), c);
        }
        ObjectNode in = Json.mapper().createObjectNode();
        one.values().forEach(in.putArray("cases")::add);
        Path casesFile = dir.resolve("one-of-each.json"), out = dir.resolve("one-of-each.torch.json");
        Files.writeString(casesFile, in.toString());
        Path script = EngineHome.home().resolve("kernels").resolve("bench").resolve("torch_ops.py");
        Process p = new ProcessBuilder("python3", script.toString(), casesFile.toString(), out.toString(), "--device", "cpu", "--warmup", "1", "--iters", "1")
                .inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        JsonNode results = Json.mapper().readTree(out.toFile()).get("results");
        for (JsonNode c : one.values()) assertTrue(results.get(c.get("id").asText()).has("ms"), c.get("id").asText() + ": " + results.get(c.get("id").asText()));
    }

    @Test
    void torchScriptIsWhereTheCommandsLookAndParses() throws Exception {
        Path script = EngineHome.home().resolve("kernels").resolve("bench").resolve("torch_ops.py");
        assertTrue(Files.isRegularFile(script), script.toString());
        Process p;
        try {
            p = new ProcessBuilder("python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", script.toString()).inheritIO().start();
        } catch (IOException e) {
            Assumptions.abort("no python3: " + e.getMessage());
            return;
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "torch_ops.py does not parse");
    }

    private static boolean is(JsonNode c, String group, String kind, String pass) {
        JsonNode s = c.get("spec");
        return c.get("group").asText().equals(group) && (kind == null || s.get("kind").asText().equals(kind)) && s.get("pass").asText().equals(pass);
    }

    private static int spec(JsonNode c, String field) { return c.get("spec").get(field).asInt(); }

    private static List<Integer> ints(JsonNode c, String field) {
        List<Integer> l = new ArrayList<>();
        c.get("spec").get(field).forEach(n -> l.add(n.asInt()));
        return l;
    }

    private static long flops(List<JsonNode> cases) {
        return cases.stream().mapToLong(c -> c.get("count").asLong() * c.get("flops").asLong()).sum();
    }

    private static List<JsonNode> list(JsonNode array) {
        List<JsonNode> l = new ArrayList<>();
        array.forEach(l::add);
        return l;
    }

    private static List<JsonNode> all(List<JsonNode> cases, Predicate<JsonNode> p) {
        return cases.stream().filter(p).toList();
    }

    private static JsonNode one(List<JsonNode> cases, Predicate<JsonNode> p) {
        List<JsonNode> m = all(cases, p);
        assertEquals(1, m.size(), "expected exactly one matching case, got " + m.size());
        return m.get(0);
    }
}
