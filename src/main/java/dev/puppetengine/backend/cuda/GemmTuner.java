package dev.puppetengine.backend.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Which tensor-core kernel and block tile runs a product: a tile of kernels/gemm_mma.cu (mma.sync, every GPU) or, on
 * sm_90, of kernels/gemm_wgmma.cu (wgmma; two block organisations, plain and warp-specialised), or, where
 * libcublas.so.12 loads and can take the product, cuBLAS ({@link Tile#CUBLAS}; for a convolution, its explicit
 * column path). Autotuned (the default): the first time a problem shape
 * is seen, every usable candidate runs it and is timed, the fastest is kept, and the choice is written to a cache file
 * per device, so later processes start tuned. A tile is usable once it has matched the CPU reference
 * ({@code validate}, run once before any timing); one that does not is never chosen. Untuned
 * ({@code -Dpuppet.cuda.gemm.tune=false}, or inside a CUDA-graph capture, where nothing can be timed): the cached
 * choice, else cuBLAS where offered, else a wave heuristic. {@code -Dpuppet.cuda.gemm.tile=128x64} (say) forces one
 * tile everywhere, to test each on a GPU ({@code cublas}: cuBLAS wherever it is offered). Pure Java: CudaGemm
 * supplies the timing and the validation.
 */
final class GemmTuner {
    private static final Logger LOG = LoggerFactory.getLogger(GemmTuner.class);
    /** Bumped when the tiles or the kernel change enough to void cached choices. */
    static final int VERSION = 8;   // 8: convolution keys hold padding and image size; 7: choices made after validation of 16-bit C and of stores outside C; 6: entries keyed by the candidates timed; 5: cuBLAS a timed candidate; 4: gemm_mma.cu's staged epilogue, gemm_ws's TMA-only signalling

    /**
     * The block tiles the kernels instantiate: gemm_mma.cu's GEMM_MMA_TILES and gemm_wgmma.cu's GEMM_WGMMA_TILES
     * (module, variant: "" or gemm_wgmma.cu's warp-specialised "ws", whether its dense operands come by TMA, tile
     * extents, threads per block, dynamic shared memory: gemm_wgmma.cu's Cfg / WsCfg SMEM, 0 for gemm_mma.cu's static
     * arrays). The "tma" tiles are the "ws" kernel given tensor maps (TensorMaps), tuned and validated on their own, so
     * a fault of either copy path costs only its own tiles. {@link #CUBLAS} is no tile of ours: the vendor library as
     * one more candidate (never validated, no kernel entry, no extents), offered by CudaGemm where it can take the product.
     */
    enum Tile {
        T128x128("gemm_mma", "", false, 128, 128, 256, 0), T128x64("gemm_mma", "", false, 128, 64, 128, 0),
        T64x128("gemm_mma", "", false, 64, 128, 128, 0),
        W128x128("gemm_wgmma", "", false, 128, 128, 256, wgmmaSmem(128)),
        W128x256("gemm_wgmma", "", false, 128, 256, 256, wgmmaSmem(256)),
        WS128x128("gemm_wgmma", "ws", false, 128, 128, 384, wsSmem(128)),
        WS128x256("gemm_wgmma", "ws", false, 128, 256, 384, wsSmem(256)),
        TMA128x128("gemm_wgmma", "ws", true, 128, 128, 384, wsSmem(128)),
        TMA128x256("gemm_wgmma", "ws", true, 128, 256, 384, wsSmem(256)),
        CUBLAS("cublas", "", false, 0, 0, 0, 0);

        /** gemm_mma.cu's tiles: sm_80 and newer. */
        static final Set<Tile> MMA = EnumSet.of(T128x128, T128x64, T64x128);
        /** gemm_wgmma.cu's tiles, both block organisations and both copy paths: sm_90 only. */
        static final Set<Tile> WGMMA = EnumSet.of(W128x128, W128x256, WS128x128, WS128x256, TMA128x128, TMA128x256);
        /** The tiles that copy dense operands by TMA (they need TensorMaps). */
        static final Set<Tile> TMA = EnumSet.of(TMA128x128, TMA128x256);

        final String module, variant;
        final boolean tma;
        final int bm, bn, threads, smem;

        Tile(String module, String variant, boolean tma, int bm, int bn, int threads, int smem) {
            this.module = module; this.variant = variant; this.tma = tma; this.bm = bm; this.bn = bn; this.threads = threads; this.smem = smem;
        }

        /** gemm_wgmma.cu's Cfg&lt;BN&gt;::SMEM: 4 ring stages of A (128 x 64) and B (BN x 64) bf16, 1024 bytes of alignment slack. */
        private static int wgmmaSmem(int bn) { return 4 * (128 + bn) * 64 * 2 + 1024; }

        /**
         * gemm_wgmma.cu's WsCfg&lt;BN&gt;::SMEM: its ring (5 stages at BN 128, 3 at 256), one warpgroup's 64 staged fp32 rows
         * of C (row stride BN + 8), 2 mbarriers per stage, the alignment slack.
         */
        private static int wsSmem(int bn) {
            int stages = bn == 128 ? 5 : 3;
            return stages * (128 + bn) * 64 * 2 + 64 * (bn + 8) * 4 + 2 * stages * 8 + 1024;
        }

        boolean wgmma() { return WGMMA.contains(this); }

        /** Its name in -Dpuppet.cuda.gemm.tile and in the cache file (gemm_mma.cu's tiles unprefixed, as first named). */
        String suffix() { return wgmma() || this == CUBLAS ? label() : bm + "x" + bn; }

        /** Kernel and tile, e.g. "mma-128x64", "wgmma-128x256", "wgmma-ws-128x256", "wgmma-tma-128x256" (what bench rows name). */
        String label() {
            if (this == CUBLAS) return "cublas";
            return module.substring("gemm_".length()) + (tma ? "-tma" : variant.isEmpty() ? "" : "-" + variant) + "-" + bm + "x" + bn;
        }

        /** gemm_wgmma.cu's gemm_ws: takes tensor maps (empty ones unless {@link #tma}). */
        boolean warpSpecialised() { return variant.equals("ws"); }

        /** The entry point for a product kind such as "bf16_kk" (dtype, A layout, B layout). */
        String entry(String kind) { return module + (variant.isEmpty() ? "" : "_" + variant) + "_" + kind + "_" + bm + "x" + bn; }

        /** Output tiles of an m x n product (blocks of gemm_mma.cu; the persistent gemm_wgmma.cu walks them with at most one block per SM). */
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
                    + Arrays.stream(values()).map(Tile::suffix).toList());
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
    /** Set at the first write that failed: the cache is not tried (and the failure not said) again in this process. */
    private boolean cacheUnwritable;
    private final boolean tune;
    private final Supplier<Set<Tile>> validate;
    private final Tile forced = Tile.forced();
    private final Map<String, Tile> chosen = new HashMap<>();
    private final Map<String, Tile> timedHere = new HashMap<>();   // what this process measured: wins over the file's entry
    private Set<Tile> usable;
    /** Why the validation threw, given again at later products that only our tiles could take (it is not run again). */
    private RuntimeException validationFailed;

    /**
     * {@code device}: the GPU's name and compute capability, and a digest of the GEMM kernels (cache entries of
     * another device or kernel build are ignored: a rebuilt kernel is validated and timed again);
     * {@code sms}: its multiprocessor count (part of the cache's identity too); {@code cacheFile}: null for none; {@code validate}: the tiles that match
     * the CPU reference (it logs the others), asked once, at the first choice outside a graph capture.
     */
    GemmTuner(String device, int sms, Path cacheFile, boolean tune, Supplier<Set<Tile>> validate) {
        this.device = device;
        this.sms = sms;
        this.cacheFile = cacheFile;
        this.tune = tune;
        this.validate = validate;
        chosen.putAll(read());
    }

    /**
     * The untimed choice among {@code ok}: cuBLAS where offered (what the engine used everywhere before it was timed
     * against the tiles), else the wave heuristic (the warp-specialised wgmma tiles are chosen by timing only):
     * wgmma's wide tile when every SM gets a tile of it, else its
     * 128x128; without wgmma, mma's 128x128 when it gives every SM at least one block, else the half tile that splits
     * the larger of m and n (more blocks, so more SMs busy). A guess from block counts, not from measurements.
     */
    Tile heuristic(int m, int n, int batch, Set<Tile> ok) {
        if (ok.contains(Tile.CUBLAS)) return Tile.CUBLAS;   // untimed, the vendor library is the safer guess
        if (ok.contains(Tile.W128x256) && Tile.W128x256.blocks(m, n, batch) >= sms) return Tile.W128x256;
        if (ok.contains(Tile.W128x128)) return Tile.W128x128;
        if (ok.contains(Tile.T128x128) && Tile.T128x128.blocks(m, n, batch) >= sms) return Tile.T128x128;
        Tile split = m >= n ? Tile.T64x128 : Tile.T128x64;
        if (ok.contains(split)) return split;
        return ok.iterator().next();
    }

    /**
     * The tile for the product {@code product} (dtype, layouts, m, n, k, batch, operand kinds) among {@code candidates}
     * (the tiles this device runs): cached, else timed with {@code bench} when tuning is on and
     * {@code canTime}, else the heuristic. Only validated tiles are chosen, except gemm_mma.cu's inside a graph
     * capture that comes before any eager product (nothing can be validated then). The candidates enter the cache
     * key: a choice made where fewer were offered (-Dpuppet.cuda.tma=false, no TensorMaps library) never timed the
     * others, so it must not serve a process that offers them, nor be overwritten by it.
     */
    synchronized Tile choose(String product, int m, int n, int batch, boolean canTime, Set<Tile> candidates, Bench bench) {
        if (forced != null && candidates.contains(forced)) return forced;
        String key = product + " among " + String.join(",", candidates.stream().map(Tile::suffix).toList());
        Tile t = chosen.get(key);   // a cached choice, unless this process validated the tiles and that one failed
        if (t != null && candidates.contains(t) && (t == Tile.CUBLAS || usable == null || usable.contains(t))) return t;
        // untimed, cuBLAS is the choice where offered: no reason to validate (or risk) a tile that would not be used
        if ((!tune || !canTime) && candidates.contains(Tile.CUBLAS)) return Tile.CUBLAS;
        if (usable == null && canTime) {
            usable = EnumSet.noneOf(Tile.class);   // left empty if it throws: cuBLAS, where offered, still serves
            try {
                usable.addAll(validate.get());
            } catch (RuntimeException e) {
                validationFailed = e;
                throw e;
            }
        }
        Set<Tile> ok = EnumSet.noneOf(Tile.class);
        for (Tile c : candidates) if (c == Tile.CUBLAS || (usable != null ? usable.contains(c) : !c.wgmma())) ok.add(c);
        if (ok.isEmpty() && validationFailed != null)   // not "no tile matches": that blames tiles it may never have run
            throw new CudaException("tensor-core GEMM tile validation failed earlier in this process: " + validationFailed.getMessage(), validationFailed);
        if (ok.isEmpty()) throw new CudaException("no tensor-core GEMM tile matches the CPU reference on " + device
                + ": the tensor-core GEMM is broken here; run with -Dpuppet.cuda.gemm=tiled and report it");
        if (!tune || !canTime) return heuristic(m, n, batch, ok);
        Tile best = null;
        double bestMs = Double.POSITIVE_INFINITY;
        StringBuilder times = new StringBuilder();
        for (Tile c : ok) {
            double ms = bench.millis(c);
            times.append(' ').append(c.suffix()).append(String.format(Locale.ROOT, "=%.4fms", ms));
            if (ms < bestMs) { bestMs = ms; best = c; }
        }
        LOG.debug("tuned {}:{} -> {}", key, times, best.suffix());
        chosen.put(key, best);
        timedHere.put(key, best);
        save();
        return best;
    }

    /** The cache file's choices for this device; a missing, foreign or malformed file gives none (with a warning). */
    private Map<String, Tile> read() {
        Map<String, Tile> tiles = new HashMap<>();
        if (cacheFile == null || !Files.isRegularFile(cacheFile)) return tiles;
        try {
            JsonNode root = Json.mapper().readTree(cacheFile.toFile());
            if (root.path("version").asInt() != VERSION || !device.equals(root.path("device").asText()) || root.path("sms").asInt() != sms) return tiles;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("tiles").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                Tile t = Tile.of(e.getValue().asText());
                if (t != null) tiles.put(e.getKey(), t);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring the GEMM tuning cache {}: {}", cacheFile, e.getMessage());
        }
        return tiles;
    }

    /**
     * Merges this process's timings into the cache file and rewrites it atomically (a crash leaves the old one). The
     * merge runs under a lock on a file beside it, so a second process tuning other shapes at the same time keeps its
     * entries. A failure only costs tuning again later.
     */
    private void save() {
        if (cacheFile == null || cacheUnwritable) return;
        Path lock = cacheFile.resolveSibling(cacheFile.getFileName() + ".lock");   // never deleted: a waiter holds its inode
        try {
            Files.createDirectories(cacheFile.getParent());
            try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock held = ch.lock()) {
                Map<String, Tile> merged = new TreeMap<>(read());
                merged.putAll(timedHere);
                ObjectNode root = Json.mapper().createObjectNode();
                root.put("version", VERSION).put("device", device).put("sms", sms);
                ObjectNode tiles = root.putObject("tiles");
                merged.forEach((k, t) -> tiles.put(k, t.suffix()));
                AtomicFile.writeString(cacheFile, Json.mapper().writeValueAsString(root));
            }
        } catch (IOException | OverlappingFileLockException e) {
            cacheUnwritable = true;
            LOG.warn("could not write the GEMM tuning cache {}: {} {}; tuning again in each process (-Dpuppet.cuda.tuneCache=DIR puts the cache"
                    + " in a writable DIR)", cacheFile, e.getClass().getSimpleName(), e.getMessage());
        }
    }

    /**
     * Where the choices of {@code device} with {@code sms} multiprocessors are kept (one GPU name can come with fewer:
     * a MIG slice), in {@link #cacheDirectory}; null (no cache) where there is none.
     */
    static Path defaultCacheFile(String device, int sms) {
        Path base = cacheDirectory(System.getProperty("puppet.cuda.tuneCache"), System.getenv("XDG_CACHE_HOME"), System.getProperty("user.home"), System.getenv("HOME"));
        return base == null ? null : base.resolve("gemm-tiles-" + (device + " " + sms + "sm").replaceAll("[^A-Za-z0-9._-]+", "_") + ".json");
    }

    /**
     * -Dpuppet.cuda.tuneCache=DIR ({@code configured}), else $XDG_CACHE_HOME or the home's .cache, /puppet-engine. Only an
     * absolute XDG_CACHE_HOME counts (the XDG spec's rule) and an absolute home: the JVM's user.home is "?" for a uid
     * with no passwd entry (a container's --user), where $HOME serves if set, else no cache rather than "?/.cache"
     * made in the working directory.
     */
    static Path cacheDirectory(String configured, String xdg, String userHome, String envHome) {
        if (configured != null) return Path.of(configured);
        if (xdg != null && xdg.startsWith("/")) return Path.of(xdg, "puppet-engine");
        for (String home : new String[]{userHome, envHome})
            if (home != null && home.startsWith("/")) return Path.of(home, ".cache", "puppet-engine");
        return null;
    }
}
