package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.testing.OpenFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The progress file of a resumable evaluation: what survives the ways a crash or a failed write can leave it. */
class EvalProgressTest {
    @TempDir
    Path dir;

    private static final ObjectNode SETTINGS = Json.mapper().createObjectNode().put("model", "/m").put("steps", 25);
    private static final ObjectWriter LINE = Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT);

    private static VideoScore score(String name, double psnr) {
        return score(name, psnr, Map.of("a.pkl", "0123"));
    }

    private static VideoScore score(String name, double psnr, Map<String, String> files) {
        DragError d = new DragError(64, new double[]{0, Double.NaN, Double.POSITIVE_INFINITY}, List.<double[][]>of(new double[][]{{1, 2}, {3, 4}, {5, 6}}));
        return new VideoScore(name, 1, new double[]{psnr, Double.POSITIVE_INFINITY, 1}, new double[]{0.5, 0.25, 1}, d, d, files);
    }

    private Set<String> reopened(Path report) throws IOException {
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            return p.scored().keySet();
        }
    }

    @Test
    void keepsEveryWholeLineWhateverACrashLeftAfterOrBetweenThem() throws IOException {
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("a", 10));
            p.add(score("b", 20));
        }
        assertEquals(3, Files.readAllLines(file).size(), "the settings and one line per example");
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {   // values come back exactly, NaN and infinities included
            VideoScore b = p.scored().get("b"), want = score("b", 20);
            assertArrayEquals(want.psnr(), b.psnr());
            assertArrayEquals(want.drag().perFramePx(), b.drag().perFramePx());
            assertArrayEquals(want.drag().tracks().get(0)[2], b.drag().tracks().get(0)[2]);
        }

        byte[] bytes = Files.readAllBytes(file);   // b's line lost its newline: it was cut short, and is dropped
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 1));
        assertEquals(Set.of("a"), reopened(report));
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("c", 30));
        }
        assertEquals(Set.of("a", "c"), reopened(report), "the line after a dropped one is whole");

        Files.write(file, new byte[]{'{', '"', 'n', 0, '\n'}, StandardOpenOption.APPEND);   // garbage between whole lines
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("d", 40));
        }
        Files.write(file, new byte[]{'{', '"', 'n', (byte) 0xE2, (byte) 0x82}, StandardOpenOption.APPEND);   // torn inside a UTF-8 character
        assertEquals(Set.of("a", "c", "d"), reopened(report));
        assertEquals(4, Files.readAllLines(file).size(), "rewritten without the broken lines");
    }

    @Test
    void refusesOtherSettingsAndASecondWriter() throws IOException {
        Path report = dir.resolve("r.json");
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("a", 10));
            String busy = assertThrows(InputFileException.class, () -> EvalProgress.open(report, SETTINGS)).getMessage();
            assertTrue(busy.contains("another evaluation is writing this report"), busy);
            assertTrue(Files.exists(report.resolveSibling("r.json.partial.jsonl.lock")), "the refused run leaves the holder's lock alone");
        }
        String other = assertThrows(InputFileException.class, () -> EvalProgress.open(report, SETTINGS.deepCopy().put("steps", 50))).getMessage();
        assertTrue(other.contains("unfinished evaluation with other settings (steps 25 -> 50)"), other);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            assertEquals(Set.of("a"), p.scored().keySet());
        }
        EvalProgress p = EvalProgress.open(report, SETTINGS);
        p.close();
        p.finish();
        try (var left = Files.list(dir)) {
            assertEquals(List.of(), left.toList(), "finished: no progress file and no lock");
        }
    }

    /**
     * A scored example is kept only while the source's files for it are those it was scored on; a line without digests
     * (a source that has none, or a line written before they were recorded) matches such a source.
     */
    /** A file of an engine that recorded no data.identity: no settings can match it, so the refusal says so (it said 'run it with those'). */
    @Test
    void refusesAnEarlierVersionsFileWithoutTheDataIdentitySayingSo() throws IOException {
        Path report = dir.resolve("old.json"), file = EvalProgress.fileFor(report);
        ObjectNode now = SETTINGS.deepCopy(), then = SETTINGS.deepCopy();
        now.putObject("data").put("kind", "clips").put("path", "/c").putObject("identity").put("seed", 1);
        then.putObject("data").put("kind", "clips").put("path", "/c");
        Files.writeString(file, LINE.writeValueAsString(then) + "\n");
        String m = assertThrows(InputFileException.class, () -> EvalProgress.open(report, now)).getMessage();
        assertTrue(m.startsWith(file + " was written by an earlier version") && m.endsWith("remove it to start over"), m);
    }

    @Test
    void refusesAScoredExampleWhoseFilesChangedNamingTheExampleAndFile() throws IOException {
        Map<String, Map<String, String>> files = new HashMap<>(Map.of("a", Map.of("a.pkl", "0123"), "b", Map.of("b.pkl", "4567")));
        ExampleSource source = new ExampleSource() {
            @Override public List<String> names() { return List.of("a", "b"); }
            @Override public Example load(String name) { throw new AssertionError("scored examples are not loaded"); }
            @Override public Map<String, String> files(String name) { return files.get(name); }
        };
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("a", 10));
        }
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.requireSameFiles(source);
        }
        files.put("b", Map.of("b.pkl", "89ab"));   // not scored: no concern
        files.put("a", Map.of("a.pkl", "0123", "a.gif", "missing"));
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            String msg = assertThrows(InputFileException.class, () -> p.requireSameFiles(source)).getMessage();
            assertEquals(file + ": example a was scored on other files than there are now (a.gif: SHA-256 none when scored, missing now);"
                    + " put back the files it was scored on, or remove the file to start over", msg);
        }

        Files.writeString(file, Files.readAllLines(file).get(0) + "\n" + Files.readAllLines(file).get(1).replaceFirst(",\"files\":\\{[^}]*}", "") + "\n");
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            assertEquals(Map.of(), p.scored().get("a").files());
            p.requireSameFiles(new ExampleSource() {
                @Override public List<String> names() { return List.of("a"); }
                @Override public Example load(String name) { throw new AssertionError(); }
            });
        }
    }

    /** Found by fuzzing: a whole line with missing or mistyped scores came back as a VideoScore of nulls (an NPE in the report). */
    @Test
    void refusesAWholeLineThatIsNoScoredExampleNamingTheFieldAndLine() throws IOException {
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("a", 10));
        }
        String good = Files.readAllLines(file).get(1);
        String[][] cases = {
                {"{\"name\":\"b\"}", "Cannot map `null` into type `int` at field 'drags'"},
                {good.replaceFirst("\"truthDrag\":\\{.*\\}}$", "\"truthDrag\":null}"), "field 'truthDrag' is missing"},
                {good.replace("\"psnr\":[10.0,", "\"psnr\":[null,"), "at field 'psnr"},
                {good.replace("\"psnr\":[10.0,", "\"psnr\":\"x\",\"z\":["), "not a scored example"},
                {good.replace("\"ssim\":[0.5,", "\"ssim\":["), "field 'ssim' holds 2 values and 'psnr' 3, where both hold one per frame"},
                {good.replace("\"drags\":1,", "\"drags\":-2,"), "field 'drags' is -2, a count"},
                {with(good, "", "psnr", null), "field 'psnr' is missing"},
                {with(good, "", "ssim", null), "field 'ssim' is missing"},
                {with(good, "", "drag", null), "field 'drag' is missing"},
                {with(good, "/drag", "perFramePx", null), "field 'drag.perFramePx' is missing"},
                {with(good, "/drag", "tracks", null), "field 'drag.tracks' is missing"},
                {with(good, "/truthDrag", "perFramePx", null), "field 'truthDrag.perFramePx' is missing"},
                {with(good, "/truthDrag", "tracks", null), "field 'truthDrag.tracks' is missing"},
                {with(good, "", "psnr", Json.mapper().createArrayNode()), "field 'psnr' is empty, no frame scored"},
                {with(good, "/drag", "perFramePx", Json.mapper().createArrayNode().add(0).add(1)), "field 'drag.perFramePx' holds 2 values and 'psnr' 3, where both hold one per frame"},
                {with(good, "/truthDrag", "perFramePx", Json.mapper().createArrayNode().add(0).add(1)), "field 'truthDrag.perFramePx' holds 2 values and 'psnr' 3, where both hold one per frame"},
        };
        for (String[] c : cases) {
            Files.writeString(file, Files.readAllLines(file).get(0) + "\n" + c[0] + "\n");
            String msg = assertThrows(InputFileException.class, () -> reopened(report), c[0]).getMessage();
            assertTrue(msg.startsWith(file + " line 2: ") && msg.contains(c[1]) && msg.lines().count() == 1, msg);
        }
    }

    /** Two lines for one example (two progress files joined, or an edit): which would the report count? Refused, naming both lines. */
    @Test
    void refusesAnExampleScoredTwiceNamingBothLines() throws IOException {
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            p.add(score("a", 10));
            p.add(score("b", 20));
        }
        Files.writeString(file, LINE.writeValueAsString(score("a", 15)) + "\n", StandardOpenOption.APPEND);
        String msg = assertThrows(InputFileException.class, () -> reopened(report)).getMessage();
        assertEquals(file + " line 4: example a is scored again (first on line 2), so which scores stand is unclear; remove the file to start over", msg);
        assertEquals(4, Files.readAllLines(file).size(), "a refused file is left as it was");
    }

    /** {@code line} with the field {@code field} of the object at {@code parent} set to {@code value}, or removed where that is null. */
    private static String with(String line, String parent, String field, JsonNode value) throws IOException {
        ObjectNode n = (ObjectNode) Json.mapper().readTree(line), o = parent.isEmpty() ? n : (ObjectNode) n.at(parent);
        if (value == null) o.remove(field);
        else o.set(field, value);
        return LINE.writeValueAsString(n);
    }

    /** A first line that is no settings object (a garbled block): the lines after it cannot be checked, so the run starts over. */
    @Test
    void aFileWithoutASettingsLineStartsOver() throws IOException {
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        Files.writeString(file, "{\"model\":\u0000\n" + LINE.writeValueAsString(score("a", 10)) + "\n");
        assertEquals(Set.of(), reopened(report));
        assertEquals(List.of("{\"model\":\"/m\",\"steps\":25}"), Files.readAllLines(file));
    }

    /** Several scored examples changed: the first is named with both digests (cut to 16 hex digits), the others counted. */
    @Test
    void namesTheFirstChangedExampleAndCountsTheOthers() throws IOException {
        String then = "0123456789abcdef".repeat(4), now = "fe".repeat(32);
        Path report = dir.resolve("r.json"), file = EvalProgress.fileFor(report);
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            for (String n : List.of("a", "b", "c", "d")) p.add(score(n, 10, Map.of(n + ".pkl", then)));
        }
        ExampleSource source = new ExampleSource() {
            @Override public List<String> names() { return List.of("a", "b", "c", "d"); }
            @Override public Example load(String name) { throw new AssertionError("scored examples are not loaded"); }
            @Override public Map<String, String> files(String name) { return Map.of(name + ".pkl", name.equals("b") ? then : now); }
        };
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
            String msg = assertThrows(InputFileException.class, () -> p.requireSameFiles(source)).getMessage();
            assertEquals(file + ": example a was scored on other files than there are now (a.pkl: SHA-256 0123456789abcdef... when scored,"
                    + " fefefefefefefefe... now) and 2 more scored examples changed; put back the files they were scored on, or remove the file to start over", msg);
        }
    }

    /** An open progress holds its file open to append: close releases that as well as the lock, or each run in a process would leak one. */
    @Test
    void closingLeavesNoDescriptorOpen() throws IOException {
        Path report = dir.resolve("r.json");
        try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {   // warm-up: classes loaded, the file made
            p.add(score("a", 10));
        }
        long before = OpenFiles.count();
        for (int i = 0; i < 32; i++)
            try (EvalProgress p = EvalProgress.open(report, SETTINGS)) {
                p.add(score("b" + i, 10));
            }
        long more = OpenFiles.count() - before;
        assertTrue(more < 16, more + " more descriptors open after 32 runs");
        assertEquals(33, reopened(report).size());
    }
}
