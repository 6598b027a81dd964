package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an evaluation has scored so far, so that a long one stopped for any reason continues where it stopped:
 * {@code <report>.partial.jsonl} holds the run's settings on its first line and then one line per scored example,
 * each fsynced as it is written. Opened again with the same settings, the scored examples are not sampled again
 * (lines a crash cut short or garbled are dropped, the file rewritten without them); with other settings it is
 * refused. {@code <report>.partial.jsonl.lock} keeps a second run of the same report out meanwhile.
 */
public final class EvalProgress implements AutoCloseable {
    private static final ObjectWriter LINE = Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT);

    private final Path file, lockFile;
    private final FileChannel lock;
    private final Map<String, VideoScore> scored = new LinkedHashMap<>();
    private FileChannel out;
    private boolean locked;

    private EvalProgress(Path file, Path lockFile, FileChannel lock) {
        this.file = file;
        this.lockFile = lockFile;
        this.lock = lock;
    }

    /** The progress file of the report {@code report}. */
    public static Path fileFor(Path report) {
        return report.resolveSibling(report.getFileName() + ".partial.jsonl");
    }

    /** Opens (or starts) the progress of the evaluation reported to {@code report} under {@code settings}. */
    public static EvalProgress open(Path report, ObjectNode settings) throws IOException {
        Path file = fileFor(report), lockPath = file.resolveSibling(file.getFileName() + ".lock");
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        FileChannel lockChannel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        EvalProgress p = new EvalProgress(file, lockPath, lockChannel);
        try {
            FileLock held;
            try {
                held = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                held = null;
            }
            if (held == null) throw new InputFileException(report + ": another evaluation is writing this report (" + lockPath + " is locked)");
            p.locked = true;
            p.load((ObjectNode) Json.mapper().readTree(LINE.writeValueAsString(settings)));   // compared as it reads back
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
            byte[] all = Files.readAllBytes(file);
            int start = 0;
            for (int i = 0; i < all.length; i++) {
                if (all[i] != '\n') continue;   // a last line without its newline was cut short: dropped
                JsonNode n = parse(new String(all, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
                if (was == null) {
                    if (n == null) break;       // no settings line: nothing to keep
                    was = n;
                    if (!mine.equals(was))
                        throw new InputFileException(file + " holds an unfinished evaluation with other settings (" + differences(was, mine)
                                + "): run it with those to finish it, or remove the file to start over");
                } else if (n != null && n.hasNonNull("name")) {
                    VideoScore s = Json.mapper().treeToValue(n, VideoScore.class);
                    scored.put(s.name(), s);
                    keep.add(LINE.writeValueAsString(s));
                }
            }
        }
        AtomicFile.writeString(file, String.join("\n", keep) + "\n");
        out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    private static JsonNode parse(String line) {
        try {
            return Json.mapper().readTree(line);
        } catch (IOException garbled) {
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
            if (locked) Files.deleteIfExists(lockFile);   // never another run's
            locked = false;
            lock.close();
        }
    }
}
