package dev.puppetengine.backend.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Which block tile of kernels/gemm_mma.cu runs a product. Autotuned (the default): the first time a problem shape
 * is seen, every usable tile runs it and is timed, the fastest is kept, and the choice is written to a cache file
 * per device, so later processes start tuned. A tile is usable once it has matched the CPU reference
 * ({@code validate}, run once before any timing); one that does not is never chosen. Untuned
 * ({@code -Dpuppet.cuda.gemm.tune=false}, or inside a CUDA-graph capture, where nothing can be timed): the cached
 * choice, else a wave heuristic. {@code -Dpuppet.cuda.gemm.tile=128x64} (say) forces one tile everywhere, to test each
 * on a GPU. Pure Java: CudaGemm supplies the timing and the validation.
 */
final class GemmTuner {
    private static final Logger LOG = LoggerFactory.getLogger(GemmTuner.class);
    /** Bumped when the tiles or the kernel change enough to void cached choices. */
    static final int VERSION = 1;

    /** The block tiles gemm_mma.cu instantiates (GEMM_MMA_TILES): entry-point suffix, tile extents, threads. */
    enum Tile {
        T128x128(128, 128, 256), T128x64(128, 64, 128), T64x128(64, 128, 128);

        final int bm, bn, threads;

        Tile(int bm, int bn, int threads) { this.bm = bm; this.bn = bn; this.threads = threads; }

        String suffix() { return bm + "x" + bn; }

        long blocks(int m, int n, int batch) { return (long) ((m + bm - 1) / bm) * ((n + bn - 1) / bn) * batch; }

        static Tile of(String suffix) {
            for (Tile t : values()) if (t.suffix().equals(suffix)) return t;
            return null;
        }

        /** The tile -Dpuppet.cuda.gemm.tile names, or null when unset. */
        static Tile forced() {
            String v = System.getProperty("puppet.cuda.gemm.tile");
            if (v == null) return null;
            Tile t = of(v);
            if (t == null) throw new IllegalArgumentException("-Dpuppet.cuda.gemm.tile=" + v + ": expected one of "
                    + java.util.Arrays.stream(values()).map(Tile::suffix).toList());
            return t;
        }
    }

    /** Times a tile on the product being tuned, in milliseconds. */
    interface Bench {
        double millis(Tile tile);
    }

    private final String device;
    private final int sms;
    private final Path cacheFile;
    private final boolean tune;
    private final Supplier<Set<Tile>> validate;
    private final Tile forced = Tile.forced();
    private final Map<String, Tile> chosen = new HashMap<>();
    private Set<Tile> usable;

    /**
     * {@code device}: the GPU's name and compute capability (cache entries of another device are ignored);
     * {@code sms}: its multiprocessor count; {@code cacheFile}: null for none; {@code validate}: the tiles that match
     * the CPU reference, asked once, before the first timing.
     */
    GemmTuner(String device, int sms, Path cacheFile, boolean tune, Supplier<Set<Tile>> validate) {
        this.device = device;
        this.sms = sms;
        this.cacheFile = cacheFile;
        this.tune = tune;
        this.validate = validate;
        load();
    }

    /**
     * The wave heuristic: the 128x128 tile when it gives every SM at least one block; else the half tile that splits
     * the larger of m and n (more blocks, so more SMs busy). A guess from block counts, not from measurements.
     */
    Tile heuristic(int m, int n, int batch) {
        if (Tile.T128x128.blocks(m, n, batch) >= sms) return Tile.T128x128;
        return m >= n ? Tile.T64x128 : Tile.T128x64;
    }

    /**
     * The tile for the product {@code key} (dtype, layouts, m, n, k, batch, operand kinds): cached, else timed with
     * {@code bench} when tuning is on and {@code canTime}, else the heuristic.
     */
    synchronized Tile choose(String key, int m, int n, int batch, boolean canTime, Bench bench) {
        if (forced != null) return forced;
        Tile t = chosen.get(key);
        if (t != null) return t;
        if (!tune || !canTime) return heuristic(m, n, batch);
        if (usable == null) {
            usable = EnumSet.noneOf(Tile.class);
            usable.addAll(validate.get());
            for (Tile bad : Tile.values())
                if (!usable.contains(bad)) LOG.error("gemm_mma tile {} does not match the CPU reference on {}: never used", bad.suffix(), device);
        }
        if (usable.isEmpty()) throw new CudaException("no gemm_mma tile matches the CPU reference on " + device
                + ": the tensor-core GEMM is broken here; run with -Dpuppet.cuda.gemm=tiled and report it");
        Tile best = null;
        double bestMs = Double.POSITIVE_INFINITY;
        StringBuilder times = new StringBuilder();
        for (Tile c : usable) {
            double ms = bench.millis(c);
            times.append(' ').append(c.suffix()).append(String.format(java.util.Locale.ROOT, "=%.4fms", ms));
            if (ms < bestMs) { bestMs = ms; best = c; }
        }
        LOG.debug("tuned {}:{} -> {}", key, times, best.suffix());
        chosen.put(key, best);
        save();
        return best;
    }

    /** Reads the cache file's choices for this device; a missing, foreign or malformed file is ignored (with a warning). */
    private void load() {
        if (cacheFile == null || !Files.isRegularFile(cacheFile)) return;
        try {
            JsonNode root = ModelDirectory.json().readTree(cacheFile.toFile());
            if (root.path("version").asInt() != VERSION || !device.equals(root.path("device").asText())) return;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("tiles").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                Tile t = Tile.of(e.getValue().asText());
                if (t != null) chosen.put(e.getKey(), t);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring the GEMM tuning cache {}: {}", cacheFile, e.getMessage());
        }
    }

    /** Rewrites the cache file atomically (a crash leaves the old one); a failure only costs tuning again later. */
    private void save() {
        if (cacheFile == null) return;
        ObjectNode root = ModelDirectory.json().createObjectNode();
        root.put("version", VERSION).put("device", device);
        ObjectNode tiles = root.putObject("tiles");
        chosen.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> tiles.put(e.getKey(), e.getValue().suffix()));
        try {
            Files.createDirectories(cacheFile.getParent());
            AtomicFile.writeString(cacheFile, ModelDirectory.json().writeValueAsString(root));
        } catch (IOException e) {
            LOG.warn("could not write the GEMM tuning cache {}: {}", cacheFile, e.getMessage());
        }
    }

    /** Where the choices of {@code device} are kept: -Dpuppet.cuda.tuneCache=DIR, else $XDG_CACHE_HOME or ~/.cache, /puppet-engine. */
    static Path defaultCacheFile(String device) {
        String dir = System.getProperty("puppet.cuda.tuneCache");
        Path base;
        if (dir != null) base = Path.of(dir);
        else {
            String xdg = System.getenv("XDG_CACHE_HOME");
            base = (xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache")).resolve("puppet-engine");
        }
        return base.resolve("gemm-tiles-" + device.replaceAll("[^A-Za-z0-9._-]+", "_") + ".json");
    }
}
