package dev.puppetengine.cli;

import dev.puppetengine.eval.Example;
import dev.puppetengine.eval.ExampleSource;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.DragPath;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A directory of images (PNG, JPEG, BMP, TIFF, GIF), each with a sibling {@code <name>-drags.json} in the format
 * {@code sample --drags} reads ({@link DragArgs}); examples are named by the image's base name. A file of another
 * format that has such a drags file is an input too, one that fails naming its format. Hidden files are not inputs
 * ({@link ExampleSource#hidden}).
 */
final class ImageDirSource implements ExampleSource {
    private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif");

    private final Map<String, Path> images = new TreeMap<>();
    private final int frames;
    private final boolean autoOrient;

    ImageDirSource(Path dir, int frames, boolean autoOrient) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new UserError(dir + " is a file, not a directory of images");
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "no such image directory");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.sorted().filter(p -> !ExampleSource.hidden(p.getFileName().toString()) && Files.isRegularFile(p)).toList();
        }
        for (Path p : files) {
            String n = p.getFileName().toString(), lower = n.toLowerCase(Locale.ROOT);
            for (String ext : EXTENSIONS)
                if (lower.endsWith(ext)) {
                    Path other = images.put(n.substring(0, n.length() - ext.length()), p);
                    if (other != null) throw new UserError(p + " and " + other + " would both be written as " + n.substring(0, n.length() - ext.length()) + ".gif");
                }
        }
        // A file of another kind beside its own drags file (photo.heic and photo-drags.json) is an input too, which then fails
        // saying what it is, rather than one the batch leaves out in silence; one beside a readable image of its name stays out.
        for (Path p : files) {
            String n = p.getFileName().toString();
            int dot = n.lastIndexOf('.');
            if (dot <= 0 || n.endsWith("-drags.json")) continue;
            String base = n.substring(0, dot);
            if (!images.containsKey(base) && Files.isRegularFile(p.resolveSibling(base + "-drags.json"))) images.put(base, p);
        }
        if (images.isEmpty()) throw new UserError(dir + ": no images (PNG, JPEG, BMP, TIFF or GIF) found");
        this.frames = frames;
        this.autoOrient = autoOrient;
    }

    @Override
    public List<String> names() { return List.copyOf(images.keySet()); }

    @Override
    public Example load(String name) throws IOException {
        Path image = images.get(name);
        Path drags = image.resolveSibling(name + "-drags.json");
        if (!Files.isRegularFile(drags)) throw new NoSuchFileException(drags.toString(), null, "no drags file next to " + image.getFileName());
        RgbImage img = InputImages.read(image, autoOrient, ProgressBars::println);
        List<DragPath> paths = DragArgs.parse(List.of(), drags, false, img.width(), img.height(), frames);
        return new Example(name, img, paths, List.of());
    }
}
