package dev.puppetengine.train.data.synthetic;

import dev.puppetengine.train.data.ClipDatasetWriter;
import dev.puppetengine.train.data.DatasetManifest;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * Generates a synthetic part-motion clip dataset on disk (format: {@link DatasetManifest}), resumably:
 * clips already complete in the directory are kept, interrupted ones are redone. Read it back with
 * {@link dev.puppetengine.train.data.ClipDataset}. {@link #open} checks the directory and finds its complete clips
 * before {@link #generate(ProgressListener)} makes the rest, so that a progress bar can start from them.
 */
public final class SyntheticDataset implements AutoCloseable {
    /** Recorded in dataset.json; bump the number when a change alters the clips a seed produces. */
    public static final String GENERATOR = "synthetic-part-motion/1";

    /** What a generation run did: clips written, and clips found complete and kept. */
    public record Result(int written, int skipped) {}

    private final ClipDatasetWriter writer;
    private final int count;
    private final long seed;
    private final GeneratorConfig config;
    private final BitSet complete = new BitSet();

    private SyntheticDataset(ClipDatasetWriter writer, int count, long seed, GeneratorConfig config) {
        this.writer = writer;
        this.count = count;
        this.seed = seed;
        this.config = config;
        for (int i = 0; i < count; i++) if (writer.isComplete(i)) complete.set(i);
    }

    /** {@code count} clips of {@code frames} frames at {@code size x size}, with the default settings of {@link GeneratorConfig}. */
    public static Result generate(Path out, int count, long seed, int size, int frames, ProgressListener progress) throws IOException {
        return generate(out, count, seed, GeneratorConfig.defaults(size, frames), progress);
    }

    public static Result generate(Path out, int count, long seed, GeneratorConfig config, ProgressListener progress) throws IOException {
        try (SyntheticDataset d = open(out, count, seed, config)) {
            return d.generate(progress);
        }
    }

    /**
     * Opens {@code out} for {@code count} clips (holding its lock until closed); an existing dataset there of other
     * settings is refused (see {@link ClipDatasetWriter#open}).
     */
    public static SyntheticDataset open(Path out, int count, long seed, GeneratorConfig config) throws IOException {
        if (count < 0) throw new IllegalArgumentException("clip count " + count + " is negative");
        DatasetManifest manifest = new DatasetManifest(GENERATOR, seed, config.clipParameters(), count, config.frames(), config.size(),
                config.size(), DatasetManifest.trainCount(count, config.valFraction()), true);
        return new SyntheticDataset(ClipDatasetWriter.open(out, manifest), count, seed, config);
    }

    /** The clips found complete when opened: kept, not generated again. */
    public int complete() { return complete.cardinality(); }

    /** Generates the clips not complete and marks the dataset complete; call once. */
    public Result generate(ProgressListener progress) throws IOException {
        int kept = complete(), written = 0;
        for (int i = 0; i < count; i++) {
            if (complete.get(i)) continue;
            // the clips are written by other threads: an interrupt (a signal's stop) would go unnoticed; taken (cleared) here,
            // so that close() waits for the clips being written and releases the directory
            if (Thread.interrupted()) throw new InterruptedIOException("generation interrupted after " + (kept + written) + " of " + count + " clips");
            SyntheticClip clip = SyntheticClip.generate(seed, i, config);
            writer.write(i, clip.rgb(), clip.clipDrags());
            written++;
            progress.onClip(kept + written, count);
        }
        writer.finish();
        return new Result(written, kept);
    }

    /** Lets clips being written finish and releases the directory (see {@link ClipDatasetWriter#close}). */
    @Override
    public void close() throws IOException {
        writer.close();
    }
}
