package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
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

    private static VideoScore score(String name, double psnr) {
        DragError d = new DragError(64, new double[]{0, Double.NaN, Double.POSITIVE_INFINITY}, List.<double[][]>of(new double[][]{{1, 2}, {3, 4}, {5, 6}}));
        return new VideoScore(name, 1, new double[]{psnr, Double.POSITIVE_INFINITY, 1}, new double[]{0.5, 0.25, 1}, d, d, Map.of("a.pkl", "0123"));
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
        Files.writeString(file, Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(then) + "\n");
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
                {good.replace("\"ssim\":[0.5,", "\"ssim\":["), "field 'ssim' does not hold one value per frame (3 PSNRs)"},
                {good.replace("\"drags\":1,", "\"drags\":-2,"), "field 'drags' is -2, a count"},
        };
        for (String[] c : cases) {
            Files.writeString(file, Files.readAllLines(file).get(0) + "\n" + c[0] + "\n");
            String msg = assertThrows(InputFileException.class, () -> reopened(report), c[0]).getMessage();
            assertTrue(msg.startsWith(file + " line 2: ") && msg.contains(c[1]) && msg.lines().count() == 1, msg);
        }
    }
}
