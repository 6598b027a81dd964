package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an evaluation has scored so far, so that a long one stopped for any reason continues where it stopped:
 * {@code <report>.partial.jsonl} holds the run's settings on its first line and then one line per scored example,
 * each fsynced as it is written (a line cut short by a crash is ignored). Opened again with the same settings, the
 * scored examples are not sampled again; with other settings it is refused. Removed when the report is written.
 */
public final class EvalProgress implements AutoCloseable {
    private static final ObjectWriter LINE = Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT);

    private final Path file;
    private final Map<String, VideoScore> scored = new LinkedHashMap<>();
    private final FileChannel out;

    private EvalProgress(Path file, FileChannel out) {
        this.file = file;
        this.out = out;
    }

    /** The progress file of the report {@code report}. */
    public static Path fileFor(Path report) {
        return report.resolveSibling(report.getFileName() + ".partial.jsonl");
    }

    /** Opens (or starts) the progress of the evaluation reported to {@code report} under {@code settings}. */
    public static EvalProgress open(Path report, ObjectNode settings) throws IOException {
        Path file = fileFor(report);
        ObjectNode mine = (ObjectNode) Json.mapper().readTree(LINE.writeValueAsString(settings));   // as it reads back
        Map<String, VideoScore> before = new LinkedHashMap<>();
        long keep = 0;
        if (Files.isRegularFile(file)) {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            JsonNode was = lines.isEmpty() ? null : parse(lines.get(0));
            if (was == null) {
                Files.delete(file);   // cut short before its first line: nothing to keep
            } else {
                if (!mine.equals(was))
                    throw new InputFileException(file + " holds an unfinished evaluation with other settings (" + differences(was, mine)
                            + "): run it with those to finish it, or remove the file to start over");
                keep = lines.get(0).getBytes(StandardCharsets.UTF_8).length + 1;
                for (String line : lines.subList(1, lines.size())) {
                    JsonNode n = parse(line);
                    if (n == null) break;   // the last line, cut short
                    before.put(n.path("name").asText(), Json.mapper().treeToValue(n, VideoScore.class));
                    keep += line.getBytes(StandardCharsets.UTF_8).length + 1;
                }
            }
        }
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        EvalProgress p = new EvalProgress(file, ch);
        try {
            ch.truncate(keep).position(keep);
            if (keep == 0) p.append(mine);
            p.scored.putAll(before);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return p;
    }

    private static JsonNode parse(String line) {
        try {
            return Json.mapper().readTree(line);
        } catch (IOException torn) {
            return null;
        }
    }

    private static String differences(JsonNode was, JsonNode now) {
        StringBuilder d = new StringBuilder();
        now.fields().forEachRemaining(f -> {
            if (!f.getValue().equals(was.get(f.getKey())))
                d.append(d.length() == 0 ? "" : ", ").append(f.getKey()).append(' ').append(was.has(f.getKey()) ? was.get(f.getKey()) : "(absent)")
                        .append(" -> ").append(f.getValue());
        });
        return d.length() == 0 ? "see its first line" : d.toString();
    }

    /** Examples scored by earlier runs, by name. */
    public Map<String, VideoScore> scored() { return Map.copyOf(scored); }

    /** Records one example's scores durably. */
    public void add(VideoScore s) throws IOException {
        append(s);
        scored.put(s.name(), s);
    }

    private void append(Object value) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((LINE.writeValueAsString(value) + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) out.write(b);
        out.force(false);
    }

    /** The report is written: the progress is no longer needed. */
    public void finish() throws IOException {
        out.close();
        Files.deleteIfExists(file);
    }

    @Override
    public void close() throws IOException { out.close(); }
}
