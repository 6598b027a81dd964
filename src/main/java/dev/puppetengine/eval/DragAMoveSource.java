package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.DragAMoveBatch;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.pipeline.Conditioning;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.tensor.Scope;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The DragAMove test examples ({@code NNNNN.pkl} + {@code NNNNN.gif}, spec 7). The input is frame 0 of the
 * GIF (not the PNG, which has arrows drawn on it); the ground truth is the GIF's frames. The pickle's
 * {@code latents} are not decoded: that needs the real SVD VAE, which small models do not have, and the
 * GIF is the same video. Drags come from the pickle's normalised tensor: start (frame 0) and per-frame
 * targets make one trajectory per slot; absent slots (all zeros in every frame) are skipped. The pickle's
 * {@code cond_latent} and {@code embedding} come along as the example's precomputed conditioning.
 */
public final class DragAMoveSource implements ExampleSource {
    private final Path dir;
    private final List<String> names;

    public DragAMoveSource(Path dir) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir))
            throw new InputFileException(dir + " is a file, not a directory of DragAMove test examples (NNNNN.pkl + NNNNN.gif)");
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "no such DragAMove directory");
        try (Stream<Path> s = Files.list(dir)) {
            names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".pkl") && !ExampleSource.hidden(n)).map(n -> n.substring(0, n.length() - 4)).sorted().toList();
        }
        if (names.isEmpty()) throw new InputFileException(dir + ": no .pkl files (expected the DragAMove test examples NNNNN.pkl + NNNNN.gif)");
        this.dir = dir;
    }

    @Override
    public List<String> names() { return names; }

    /**
     * Which examples the folder holds: their count and a SHA-256 of their names. Their content is each example's own
     * ({@link #files}), so that repairing or replacing one example's files does not make the others another dataset.
     */
    @Override
    public ObjectNode identity() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(String.join("\n", names).getBytes(StandardCharsets.UTF_8));
            return JsonNodeFactory.instance.objectNode().put("examples", names.size()).put("names_sha256", HexFormat.of().formatHex(digest));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The pickle's and the GIF's SHA-256, in that order. */
    @Override
    public Map<String, String> files(String name) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String file : new String[]{name + ".pkl", name + ".gif"}) {
            Path f = dir.resolve(file);
            out.put(file, Files.isRegularFile(f) ? ModelDirectory.sha256(f) : "missing");
        }
        return out;
    }

    @Override
    public Example load(String name) throws IOException {
        // digested before they are read: a file replaced in between then reads as changed on resume, never the reverse
        Map<String, String> files = files(name);
        float[] d;
        int[] shape;
        Conditioning cond;
        try (Scope s = Scope.open()) {                 // frees the batch's tensors
            DragAMoveBatch b = DragAMoveBatch.read(dir.resolve(name + ".pkl"), CpuBackend.get());
            d = b.drags().toFloatArray();
            shape = b.drags().shape();
            int[] c = b.condLatent().shape();          // (1, 4, H, W)
            cond = Conditioning.fromChannelsFirst(b.condLatent().toFloatArray(), c[1], c[2], b.embedding().toFloatArray());
        }
        Path gif = dir.resolve(name + ".gif");
        String drags = name + ".pkl's drags have " + shape[1];   // the ground truth and the drags must describe the same video
        List<RgbImage> frames = GifFiles.read(gif, shape[1], drags).frames();
        if (frames.size() != shape[1]) throw new InputFileException(gif + " has " + frames.size() + " frames but " + drags);
        return new Example(name, frames.get(0), drags(d, shape[1], shape[2]), frames, cond, files);
    }

    /** Trajectories of the present slots of a (1, F, K, 4) drag tensor. */
    static List<DragPath> drags(float[] d, int frames, int slots) {
        List<DragPath> out = new ArrayList<>();
        for (int k = 0; k < slots; k++) {
            boolean present = false;
            for (int f = 0; f < frames; f++)
                for (int c = 0; c < 4; c++) present |= d[(f * slots + k) * 4 + c] != 0;
            if (!present) continue;
            double[] xs = new double[frames], ys = new double[frames];
            for (int f = 0; f < frames; f++) {
                int o = (f * slots + k) * 4;
                xs[f] = f == 0 ? d[o] : d[o + 2];
                ys[f] = f == 0 ? d[o + 1] : d[o + 3];
            }
            out.add(new DragPath(xs, ys));
        }
        return out;
    }
}
