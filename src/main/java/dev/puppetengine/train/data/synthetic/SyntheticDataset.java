package dev.puppetengine.train.data.synthetic;

import dev.puppetengine.train.data.ClipDatasetWriter;
import dev.puppetengine.train.data.DatasetManifest;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Generates a synthetic part-motion clip dataset on disk (format: {@link DatasetManifest}), resumably:
 * clips already complete in the directory are kept, interrupted ones are redone. Read it back with
 * {@link dev.puppetengine.train.data.ClipDataset}.
 */
public final class SyntheticDataset {
    /** Recorded in dataset.json; bump the number when a change alters the clips a seed produces. */
    public static final String GENERATOR = "synthetic-part-motion/1";

    private SyntheticDataset() {}

    /** What a generation run did: clips written, and clips found complete and kept. */
    public record Result(int written, int skipped) {}

    /** {@code count} clips of {@code frames} frames at {@code size x size}, with the default settings of {@link GeneratorConfig}. */
    public static Result generate(Path out, int count, long seed, int size, int frames, ProgressListener progress) throws IOException {
        return generate(out, count, seed, GeneratorConfig.defaults(size, frames), progress);
    }

    public static Result generate(Path out, int count, long seed, GeneratorConfig config, ProgressListener progress) throws IOException {
        if (count < 0) throw new IllegalArgumentException("clip count " + count + " is negative");
        DatasetManifest manifest = new DatasetManifest(GENERATOR, seed, config.clipParameters(), count, config.frames(), config.size(),
                config.size(), DatasetManifest.trainCount(count, config.valFraction()), true);
        try (ClipDatasetWriter writer = ClipDatasetWriter.open(out, manifest)) {
            int written = 0;
            for (int i = 0; i < count; i++) {
                if (!writer.isComplete(i)) {
                    SyntheticClip clip = SyntheticClip.generate(seed, i, config);
                    writer.write(i, clip.rgb(), clip.clipDrags());
                    written++;
                }
                progress.onClip(i + 1, count);
            }
            writer.finish();
            return new Result(written, count - written);
        }
    }
}
