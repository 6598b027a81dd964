package dev.puppetengine.eval;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What an evaluation has scored so far, so that a long one stopped for any reason continues where it stopped:
 * {@code <report>.partial.jsonl} holds the run's settings on its first line and then one line per scored example,
 * each fsynced as it is written. Opened again with the same settings, the scored examples are not sampled again
 * (lines a crash cut short or garbled are dropped, the file rewritten without them; a whole line that is no scored
 * example, or a second line for one, is refused); with other settings it is refused, and so is a scored example whose
 * files changed since ({@link #requireSameFiles}). Examples not scored yet,
 * failed ones included, are read as they are then. {@code <report>.partial.jsonl.lock} keeps a second run of the same
 * report out meanwhile.
 */
public final class EvalProgress implements AutoCloseable {
    private static final ObjectWriter LINE = Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT);

    private final Path file;
    private final LockFile lock;
    private final Map<String, VideoScore> scored = new LinkedHashMap<>();
    private FileChannel out;

    private EvalProgress(Path file, LockFile lock) {
        this.file = file;
        this.lock = lock;
    }

    /** The progress file of the report {@code report}. */
    public static Path fileFor(Path report) {
        return report.resolveSibling(report.getFileName() + ".partial.jsonl");
    }

    /** Opens (or starts) the progress of the evaluation reported to {@code report} under {@code settings}. */
    public static EvalProgress open(Path report, ObjectNode settings) throws IOException {
        Path file = fileFor(report);
        EvalProgress p = new EvalProgress(file, LockFile.acquire(file.resolveSibling(file.getFileName() + ".lock"),
                report + ": another evaluation is writing this report"));
        try {
            p.load((ObjectNode) Json.asRead(settings));
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    /** Reads what earlier runs scored, rewrites the file with the whole lines only, and opens it for appending. */
    private void load(ObjectNode mine) throws IOException {
        List<String> keep = new ArrayList<>();
        keep.add(LINE.writeValueAsString(mine));
        JsonNode was = null;
        if (Files.isRegularFile(file)) {
            Map<String, Integer> lineOf = new HashMap<>();
            byte[] all = Files.readAllBytes(file);
            int start = 0, line = 0;
            for (int i = 0; i < all.length; i++) {
                if (all[i] != '\n') continue;   // a last line without its newline was cut short: dropped
                JsonNode n = parse(new String(all, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
                line++;
                if (was == null) {
                    if (n == null) break;       // no settings line: nothing to keep
                    was = n;
                    if (!mine.equals(was) && was.at("/data/identity/files_sha256").isTextual())   // the earlier DragAMove format
                        throw new InputFileException(file + " was written by an earlier version, which digested the whole DragAMove folder at once"
                                + " and not each example's files, so its scores cannot be checked against the files there now: remove it to start over");
                    if (!mine.equals(was) && mine.path("data").has("identity") && was.path("data").isObject() && !was.path("data").has("identity"))
                        // an engine before 2026-12-04: "run it with those" below could not be followed, no settings give its header
                        throw new InputFileException(file + " was written by an earlier version, which did not record what identifies the data (data.identity),"
                                + " so its scores cannot be checked against the data there now: remove it to start over");
                    if (!mine.equals(was))
                        throw new InputFileException(file + " holds an unfinished evaluation with other settings ("
                                + String.join(", ", Json.differences("", was, mine)) + "): run it with those to finish it, or remove the file to start over");
                } else if (n != null && n.hasNonNull("name")) {
                    VideoScore s = score(n, line);
                    Integer first = lineOf.putIfAbsent(s.name(), line);
                    if (first != null)   // add never writes an example twice: two files joined, or an edit
                        throw new InputFileException(file + " line " + line + ": example " + s.name() + " is scored again (first on line " + first
                                + "), so which scores stand is unclear; remove the file to start over");
                    scored.put(s.name(), s);
                    keep.add(LINE.writeValueAsString(s));
                }
            }
        }
        AtomicFile.writeString(file, String.join("\n", keep) + "\n");
        out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    private static final ObjectReader SCORE = Json.mapper().readerFor(VideoScore.class)
            .with(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);   // [null, 2] is no PSNR of 0

    /**
     * A whole line naming an example, which add wrote: one that reads otherwise was edited or corrupted, and is refused
     * rather than taken as scores (its missing metrics would fail the report later) or silently dropped.
     */
    private VideoScore score(JsonNode n, int line) throws IOException {
        String where = file + " line " + line;
        VideoScore s;
        try {
            s = SCORE.readValue(n);
        } catch (JacksonException e) {
            throw new InputFileException(where + ": not a scored example (" + Json.oneLine(e) + "); remove the file to start over", e);
        }
        String drag = missing("drag", s.drag());
        String missing = s.psnr() == null ? "psnr" : s.ssim() == null ? "ssim" : drag != null ? drag : missing("truthDrag", s.truthDrag());
        if (missing != null) throw new InputFileException(where + ": field '" + missing + "' is missing; remove the file to start over");
        if (s.drags() < 0) throw new InputFileException(where + ": field 'drags' is " + s.drags() + ", a count; remove the file to start over");
        int frames = s.psnr().length;
        if (frames == 0) throw new InputFileException(where + ": field 'psnr' is empty, no frame scored; remove the file to start over");
        for (Map.Entry<String, Integer> f : List.of(Map.entry("ssim", s.ssim().length), Map.entry("drag.perFramePx", s.drag().perFramePx().length),
                Map.entry("truthDrag.perFramePx", s.truthDrag().perFramePx().length)))
            if (f.getValue() != frames)
                throw new InputFileException(where + ": field '" + f.getKey() + "' holds " + f.getValue() + " values and 'psnr' " + frames
                        + ", where both hold one per frame; remove the file to start over");
        return s;
    }

    /** The first field of a drag error {@code name} that is absent, as its path, or null. */
    private static String missing(String name, DragError d) {
        return d == null ? name : d.perFramePx() == null ? name + ".perFramePx" : d.tracks() == null ? name + ".tracks" : null;
    }

    private static JsonNode parse(String line) {
        try {
            return Json.mapper().readTree(line);
        } catch (IOException garbled) {
            return null;
        }
    }

    /**
     * Refuses to continue when an example scored earlier was read from other files than {@code source} holds now (one
     * replaced, repaired or gone): its scores would stand in the report beside others as if measured on the same data.
     * Reads each scored example's files once.
     */
    public void requireSameFiles(ExampleSource source) throws IOException {
        String first = null;
        int changed = 0;
        for (VideoScore s : scored.values()) {
            Map<String, String> now = source.files(s.name()), then = s.files();
            if (now.equals(then) || changed++ > 0) continue;   // the first changed example is named, the others counted
            Set<String> names = new LinkedHashSet<>(now.keySet());
            names.addAll(then.keySet());
            for (String f : names)
                if (!Objects.equals(now.get(f), then.get(f))) {
                    first = "example " + s.name() + " was scored on other files than there are now (" + f + ": SHA-256 " + brief(then.get(f))
                            + " when scored, " + brief(now.get(f)) + " now)";
                    break;
                }
        }
        if (first != null)
            throw new InputFileException(file + ": " + first + (changed > 1 ? " and " + (changed - 1) + " more scored examples changed" : "")
                    + "; put back the files " + (changed > 1 ? "they were" : "it was") + " scored on, or remove the file to start over");
    }

    private static String brief(String sha256) {
        return sha256 == null ? "none" : sha256.length() > 16 ? sha256.substring(0, 16) + "..." : sha256;
    }

    /** Examples scored by earlier runs, by name. */
    public Map<String, VideoScore> scored() { return Map.copyOf(scored); }

    /**
     * Records one example's scores durably. A write that fails is cut back off the file, so the lines after it stay
     * readable; the caller should stop (what is not recorded is sampled again next time).
     */
    public void add(VideoScore s) throws IOException {
        long before = out.size();
        try {
            ByteBuffer b = ByteBuffer.wrap((LINE.writeValueAsString(s) + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) out.write(b);
            out.force(false);
        } catch (IOException e) {
            try {
                out.truncate(before);
            } catch (IOException again) {
                e.addSuppressed(again);
            }
            throw e;
        }
        scored.put(s.name(), s);
    }

    /** The report is written and every example scored: the progress is no longer needed (call after {@link #close}). */
    public void finish() throws IOException {
        if (out != null) out.close();
        Files.deleteIfExists(file);
    }

    /** Releases the report (the progress file stays). */
    @Override
    public void close() throws IOException {
        try {
            if (out != null) out.close();
        } finally {
            lock.close();
        }
    }
}
