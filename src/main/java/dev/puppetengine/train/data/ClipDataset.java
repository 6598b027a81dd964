package dev.puppetengine.train.data;

import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reader of a clip dataset directory (layout in {@link DatasetManifest}, drags in {@link ClipDrags}). Only
 * complete datasets open: a generation that was interrupted must be resumed first.
 */
public final class ClipDataset {
    static final String MANIFEST = "dataset.json";
    static final String DRAGS = "drags.json";

    private final Path root;
    private final DatasetManifest manifest;

    private ClipDataset(Path root, DatasetManifest manifest) {
        this.root = root;
        this.manifest = manifest;
    }

    public static ClipDataset open(Path root) throws IOException {
        Path file = manifestFile(root);
        if (Files.exists(root) && !Files.isDirectory(root))   // else "FILE/dataset.json: not found", as if a directory were there
            throw new InputFileException(root + " is a file, not a clip dataset directory");
        if (!Files.isRegularFile(file)) throw new InputFileException(file + ": not found (not a clip dataset directory)");
        DatasetManifest m = DatasetManifest.fromJson(Json.read(file), file);
        if (!m.complete()) throw new InputFileException(file + ": the dataset is incomplete (generation was interrupted); run the generation again to finish it");
        return new ClipDataset(root, m);
    }

    public DatasetManifest manifest() { return manifest; }

    public Path root() { return root; }

    public int count() { return manifest.count(); }

    public int frames() { return manifest.frames(); }

    public int width() { return manifest.width(); }

    public int height() { return manifest.height(); }

    /** Training clips are indices [0, trainCount), validation clips [trainCount, count). */
    public int trainCount() { return manifest.trainCount(); }

    public ClipSample read(int index) throws IOException {
        if (index < 0 || index >= count()) throw new IndexOutOfBoundsException("clip " + index + " of a dataset of " + count());
        Path dir = clipDir(root, index);
        Path dragsFile = dir.resolve(DRAGS);
        if (!Files.isRegularFile(dragsFile)) throw new InputFileException(dragsFile + ": not found");
        ClipDrags drags = ClipDrags.fromJson(Json.read(dragsFile), dragsFile);
        if (drags.width() != width() || drags.height() != height() || drags.frames() != frames())
            throw new InputFileException(dragsFile + ": " + drags.frames() + " frames of " + drags.width() + "x" + drags.height()
                    + ", the dataset has " + frames() + " of " + width() + "x" + height());
        int frameBytes = width() * height() * 3;
        byte[] rgb = new byte[frames() * frameBytes];
        for (int f = 0; f < frames(); f++) {
            Path file = frameFile(dir, f);
            if (!Files.isRegularFile(file)) throw new InputFileException(file + ": not found");   // the dataset's fault (exit 2), as a missing drags.json is
            RgbImage img = ImageFiles.readRgb(file);
            if (img.width() != width() || img.height() != height())
                throw new InputFileException(file + ": expected " + width() + "x" + height() + " pixels, found " + img.width() + "x" + img.height());
            System.arraycopy(img.pixels(), 0, rgb, f * frameBytes, frameBytes);
        }
        return new ClipSample(frames(), width(), height(), rgb, drags);
    }

    static Path manifestFile(Path root) {
        return root.resolve(MANIFEST);
    }

    static Path clipsDir(Path root) {
        return root.resolve("clips");
    }

    /** {@code clips/000123}: six digits (more past 999999) so that names sort in index order. */
    public static Path clipDir(Path root, int index) {
        return clipsDir(root).resolve(String.format(Locale.ROOT, "%06d", index));
    }

    public static Path frameFile(Path clipDir, int frame) {
        return clipDir.resolve(String.format(Locale.ROOT, "frame_%02d.png", frame));
    }

    static Path dragsFile(Path clipDir) {
        return clipDir.resolve(DRAGS);
    }
}
