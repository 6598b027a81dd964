package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.cuda.GemmTuner.Tile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tile choice of the tensor-core GEMM without a GPU: timing and validation are stand-ins here. */
class GemmTunerTest {
    private static final String H100 = "NVIDIA H100 80GB HBM3 sm_90";
    /** ALL: every tile of ours (cuBLAS is a candidate only where CudaGemm offers it). */
    private static final Set<Tile> MMA = Tile.MMA, ALL = EnumSet.complementOf(EnumSet.of(Tile.CUBLAS));

    @TempDir
    Path dir;

    /** Times from a table; counts the calls. */
    private static GemmTuner.Bench bench(Map<Tile, Double> ms, List<Tile> calls) {
        return t -> { calls.add(t); return ms.get(t); };
    }

    @Test
    void heuristicKeepsTheBigTileWhenEverySmGetsABlock() {
        GemmTuner g = new GemmTuner(H100, 132, null, false, () -> EnumSet.allOf(Tile.class));
        // CFG batch at the 32x32 level: 2*14*32*32 = 28672 tokens x 320 channels: 672 blocks of 128x128.
        assertEquals(Tile.T128x128, g.heuristic(28672, 320, 1, MMA));
        // The 4x4 level: 448 tokens x 1280 channels is 40 blocks of 128x128: split the larger side (n).
        assertEquals(Tile.T128x64, g.heuristic(448, 1280, 1, MMA));
        assertEquals(Tile.T64x128, g.heuristic(1280, 448, 1, MMA));
        assertEquals(40, Tile.T128x128.blocks(448, 1280, 1));
        assertEquals(80, Tile.T128x64.blocks(448, 1280, 1));
        assertEquals(4, Tile.T128x128.blocks(127, 129, 2), "partial tiles count whole, per batch entry");
        // exactly one block per SM is enough; a square product splits M
        assertEquals(132, Tile.T128x128.blocks(1536, 1408, 1));
        assertEquals(Tile.T128x128, g.heuristic(1536, 1408, 1, MMA));
        assertEquals(Tile.W128x256, g.heuristic(1536, 2816, 1, ALL));
        assertEquals(Tile.W128x128, g.heuristic(1536, 2560, 1, ALL), "120 wide tiles: fewer than the SMs");
        assertEquals(Tile.T64x128, g.heuristic(512, 512, 1, MMA));
        // cuBLAS where offered; else, without the split tile, the first usable one
        assertEquals(Tile.CUBLAS, g.heuristic(28672, 320, 1, EnumSet.of(Tile.T128x128, Tile.CUBLAS)));
        assertEquals(Tile.T128x128, g.heuristic(512, 512, 1, EnumSet.of(Tile.T128x128, Tile.T128x64)));
    }

    @Test
    void tunesOncePerShapeAndKeepsTheFastestUsableTile() {
        AtomicInteger validations = new AtomicInteger();
        GemmTuner g = new GemmTuner(H100, 132, null, true, () -> { validations.incrementAndGet(); return EnumSet.of(Tile.T128x128, Tile.T128x64); });
        List<Tile> calls = new ArrayList<>();
        // T64x128 would be fastest but failed validation: never timed, never chosen.
        GemmTuner.Bench b = bench(Map.of(Tile.T128x128, 2.0, Tile.T128x64, 1.5, Tile.T64x128, 0.1), calls);
        assertEquals(Tile.T128x64, g.choose("bf16_kk m=448 n=1280 k=1280", 448, 1280, 1, true, MMA, b));
        assertEquals(List.of(Tile.T128x128, Tile.T128x64), calls);
        assertEquals(Tile.T128x64, g.choose("bf16_kk m=448 n=1280 k=1280", 448, 1280, 1, true, MMA, b));
        assertEquals(2, calls.size(), "a tuned shape is not timed again");
        assertEquals(1, validations.get(), "validation runs once, before the first timing");
    }

    @Test
    void untunedOrCapturingUsesTheHeuristicWithoutTiming() {
        List<Tile> calls = new ArrayList<>();
        GemmTuner.Bench b = bench(Map.of(Tile.T128x128, 9.0, Tile.T128x64, 1.0, Tile.T64x128, 1.0), calls);
        AtomicInteger validations = new AtomicInteger();
        GemmTuner off = new GemmTuner(H100, 132, null, false, () -> { validations.incrementAndGet(); return ALL; });
        assertEquals(Tile.T128x128, off.choose("k", 28672, 320, 1, true, MMA, b));
        assertEquals(Tile.T128x128, off.choose("k2", 28672, 320, 1, true, MMA, b));
        assertEquals(1, validations.get(), "untuned still validates, once: a wgmma tile is never chosen unvalidated");
        GemmTuner on = new GemmTuner(H100, 132, null, true, () -> EnumSet.allOf(Tile.class));
        assertEquals(Tile.T128x128, on.choose("k", 28672, 320, 1, false, MMA, b), "inside a graph capture nothing is timed");
        assertTrue(calls.isEmpty());
        assertEquals(Tile.T128x64, on.choose("k", 28672, 320, 1, true, MMA, b), "and the shape is tuned at the next eager call");
    }

    @Test
    void choicesPersistPerDeviceAcrossProcesses() throws Exception {
        Path file = dir.resolve("cache").resolve("gemm-tiles.json");
        List<Tile> calls = new ArrayList<>();
        GemmTuner first = new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class));
        first.choose("shape-a", 448, 1280, 1, true, MMA, bench(Map.of(Tile.T128x128, 3.0, Tile.T128x64, 2.0, Tile.T64x128, 1.0), calls));
        assertTrue(Files.isRegularFile(file));
        String saved = Files.readString(file).replace(" : ", ":");
        assertTrue(saved.contains("\"shape-a among 128x128,128x64,64x128\":\"64x128\""), saved);

        calls.clear();
        GemmTuner second = new GemmTuner(H100, 132, file, true, () -> { throw new AssertionError("cached: nothing to validate"); });
        assertEquals(Tile.T64x128, second.choose("shape-a", 448, 1280, 1, true, MMA, bench(Map.of(), calls)));
        assertTrue(calls.isEmpty());

        GemmTuner otherGpu = new GemmTuner("NVIDIA A100-SXM4-80GB sm_80", 108, file, false, () -> EnumSet.allOf(Tile.class));
        assertEquals(otherGpu.heuristic(448, 1280, 1, MMA), otherGpu.choose("shape-a", 448, 1280, 1, true, MMA, bench(Map.of(), calls)),
                "another device's choices are not used");
    }

    /** Two processes tuning different shapes against one cache file: the second save keeps the first one's entry. */
    @Test
    void concurrentTunersMergeTheirEntries() {
        Path file = dir.resolve("gemm-tiles.json");
        Map<Tile, Double> ms = Map.of(Tile.T128x128, 3.0, Tile.T128x64, 2.0, Tile.T64x128, 1.0);
        GemmTuner a = new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class));
        GemmTuner b = new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class));   // both read an empty cache
        a.choose("shape-a", 448, 1280, 1, true, MMA, bench(ms, new ArrayList<>()));
        b.choose("shape-b", 448, 1280, 1, true, MMA, bench(Map.of(Tile.T128x128, 1.0, Tile.T128x64, 2.0, Tile.T64x128, 3.0), new ArrayList<>()));
        GemmTuner later = new GemmTuner(H100, 132, file, true, () -> { throw new AssertionError("cached: nothing to validate"); });
        List<Tile> calls = new ArrayList<>();
        assertEquals(Tile.T64x128, later.choose("shape-a", 448, 1280, 1, true, MMA, bench(Map.of(), calls)), "a's entry survived b's save");
        assertEquals(Tile.T128x128, later.choose("shape-b", 448, 1280, 1, true, MMA, bench(Map.of(), calls)));
        assertTrue(calls.isEmpty());
    }

    /** A cached choice whose tile failed this process's validation (run for another shape) is tuned again, not used. */
    @Test
    void aCachedTileThatFailsValidationHereIsNotUsed() {
        Path file = dir.resolve("gemm-tiles.json");
        List<Tile> calls = new ArrayList<>();
        new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class))
                .choose("shape-a", 448, 1280, 1, true, MMA, bench(Map.of(Tile.T128x128, 3.0, Tile.T128x64, 2.0, Tile.T64x128, 1.0), calls));
        GemmTuner later = new GemmTuner(H100, 132, file, true, () -> EnumSet.of(Tile.T128x128, Tile.T128x64));   // 64x128 broken here
        Map<Tile, Double> ms = Map.of(Tile.T128x128, 3.0, Tile.T128x64, 2.0);
        assertEquals(Tile.T128x64, later.choose("shape-b", 448, 1280, 1, true, MMA, bench(ms, calls)));
        assertEquals(Tile.T128x64, later.choose("shape-a", 448, 1280, 1, true, MMA, bench(ms, calls)), "not the cached 64x128");
    }

    /**
     * A shape tuned in a process that offered fewer tiles (-Dpuppet.cuda.tma=false, or no TensorMaps library) must
     * not decide it for a process that offers more: the tile it never timed may be the fastest.
     */
    @Test
    void aChoiceTimedAmongFewerCandidatesDoesNotServeMore() {
        Path file = dir.resolve("gemm-tiles.json");
        Set<Tile> noTma = EnumSet.copyOf(ALL);
        noTma.removeAll(Tile.TMA);
        Map<Tile, Double> ms = Map.of(Tile.T128x128, 2.0, Tile.T128x64, 3.0, Tile.T64x128, 3.0, Tile.W128x128, 1.5, Tile.W128x256, 1.2,
                Tile.WS128x128, 1.3, Tile.WS128x256, 1.1, Tile.TMA128x128, 1.0, Tile.TMA128x256, 0.8);
        List<Tile> calls = new ArrayList<>();
        assertEquals(Tile.WS128x256, new GemmTuner(H100, 132, file, true, () -> ALL).choose("kk", 28672, 320, 1, true, noTma, bench(ms, calls)));
        calls.clear();
        GemmTuner full = new GemmTuner(H100, 132, file, true, () -> ALL);
        assertEquals(Tile.TMA128x256, full.choose("kk", 28672, 320, 1, true, ALL, bench(ms, calls)), "the TMA tiles are timed here");
        assertEquals(9, calls.size());
        // both choices are kept: each kind of process starts tuned
        GemmTuner later = new GemmTuner(H100, 132, file, true, () -> { throw new AssertionError("cached: nothing to validate"); });
        GemmTuner.Bench none = t -> { throw new AssertionError("cached: nothing to time"); };
        assertEquals(Tile.TMA128x256, later.choose("kk", 28672, 320, 1, true, ALL, none));
        assertEquals(Tile.WS128x256, later.choose("kk", 28672, 320, 1, true, noTma, none));
    }

    /** One GPU name, fewer SMs (a MIG slice, a PCIe card): waves and the persistent grid differ, so do the choices. */
    @Test
    void choicesAreNotSharedAcrossSmCounts() {
        Path file = dir.resolve("gemm-tiles.json");
        new GemmTuner(H100, 132, file, true, () -> ALL)
                .choose("s", 448, 1280, 1, true, MMA, bench(Map.of(Tile.T128x128, 3.0, Tile.T128x64, 2.0, Tile.T64x128, 1.0), new ArrayList<>()));
        GemmTuner slice = new GemmTuner(H100, 66, file, false, () -> ALL);
        assertEquals(Tile.T128x64, slice.heuristic(448, 1280, 1, MMA));
        assertEquals(Tile.T128x64, slice.choose("s", 448, 1280, 1, true, MMA, t -> { throw new AssertionError("untuned"); }),
                "the 132-SM choice (64x128) is not used");
    }

    @Test
    void theCacheIdentityNamesTheKernelBuild() {
        String d = CudaBackend.kernelsDigest("gemm_mma", "gemm_wgmma");
        assertTrue(d.matches("[0-9a-f]{12}"), d);
        assertEquals(d, CudaBackend.kernelsDigest("gemm_mma", "gemm_wgmma"), "the same jar, the same digest");
        assertNotEquals(d, CudaBackend.kernelsDigest("gemm_mma"), "the modules named enter it");
        assertNotEquals(CudaBackend.kernelsDigest("no_such_kernels"), CudaBackend.kernelsDigest("other_absent_kernels"));
    }

    @Test
    void aMalformedCacheIsIgnoredAndReplaced() throws Exception {
        Path file = dir.resolve("gemm-tiles.json");
        Files.writeString(file, "{ not json");
        GemmTuner g = new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class));
        assertEquals(Tile.T128x128, g.choose("s", 28672, 320, 1, true, MMA, bench(Map.of(Tile.T128x128, 1.0, Tile.T128x64, 2.0, Tile.T64x128, 3.0), new ArrayList<>())));
        assertTrue(Files.readString(file).contains("128x128"));
    }

    @Test
    void noUsableTileIsAnErrorThatSaysWhatToDo() {
        GemmTuner g = new GemmTuner(H100, 132, null, true, () -> EnumSet.noneOf(Tile.class));
        CudaException e = assertThrows(CudaException.class, () -> g.choose("s", 64, 64, 1, true, MMA, t -> 1.0));
        assertTrue(e.getMessage().contains("-Dpuppet.cuda.gemm=tiled"), e.getMessage());
    }

    /**
     * A validation that threw (-Dpuppet.cuda.gemm.strictValidation naming the failed tiles, an out-of-memory) is not
     * "no tile matches" at the next product: that would blame every tile; its own reason is given again instead.
     */
    @Test
    void aValidationThatThrewIsReportedAsItselfLater() {
        AtomicInteger validations = new AtomicInteger();
        GemmTuner g = new GemmTuner(H100, 132, null, true, () -> {
            validations.incrementAndGet();
            throw new CudaException("tensor-core GEMM tiles [W128x256] failed validation against the CPU reference");
        });
        Map<Tile, Double> ms = Map.of(Tile.T128x128, 1.0, Tile.T128x64, 2.0, Tile.T64x128, 3.0);
        CudaException first = assertThrows(CudaException.class, () -> g.choose("a", 448, 1280, 1, true, MMA, bench(ms, new ArrayList<>())));
        assertTrue(first.getMessage().contains("[W128x256]"), first.getMessage());
        CudaException later = assertThrows(CudaException.class, () -> g.choose("b", 448, 1280, 1, true, MMA, bench(ms, new ArrayList<>())));
        assertTrue(later.getMessage().contains("[W128x256]"), later.getMessage());
        assertEquals(1, validations.get(), "not run again (it starts a child JVM)");
    }

    @Test
    void aForcedTileWinsAndABadNameIsRefused() {
        System.setProperty("puppet.cuda.gemm.tile", "64x128");
        try {
            GemmTuner g = new GemmTuner(H100, 132, null, true, () -> { throw new AssertionError("forced: no validation"); });
            assertEquals(Tile.T64x128, g.choose("s", 28672, 320, 1, true, MMA, t -> { throw new AssertionError("forced: no timing"); }));
            System.setProperty("puppet.cuda.gemm.tile", "96x96");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Tile::forced);
            assertTrue(e.getMessage().contains("[128x128, 128x64, 64x128, wgmma-128x128, wgmma-128x256, wgmma-ws-128x128, wgmma-ws-128x256, wgmma-tma-128x128, wgmma-tma-128x256, cublas]"), e.getMessage());
        } finally {
            System.clearProperty("puppet.cuda.gemm.tile");
        }
    }

    @Test
    void wgmmaTilesOnlyAfterValidationAndOnlyAmongTheCandidates() {
        List<Tile> calls = new ArrayList<>();
        GemmTuner.Bench b = bench(Map.of(Tile.T128x128, 2.0, Tile.T128x64, 3.0, Tile.T64x128, 3.0, Tile.W128x128, 1.5, Tile.W128x256, 1.0,
                Tile.WS128x128, 1.2, Tile.WS128x256, 1.1, Tile.TMA128x128, 1.3, Tile.TMA128x256, 1.05), calls);
        GemmTuner g = new GemmTuner(H100, 132, null, true, () -> ALL);
        // inside a capture before anything was validated: gemm_mma.cu's tiles only
        assertEquals(Tile.T128x128, g.choose("kk", 28672, 320, 1, false, ALL, b));
        assertTrue(calls.isEmpty());
        // eager: validated, timed among all candidates, wgmma's wide tile wins
        assertEquals(Tile.W128x256, g.choose("kk", 28672, 320, 1, true, ALL, b));
        assertEquals(9, calls.size());
        // where the candidates hold no wgmma tile (a GPU other than sm_90) a forced one is not used
        System.setProperty("puppet.cuda.gemm.tile", "wgmma-128x256");
        try {
            GemmTuner forced = new GemmTuner(H100, 132, null, true, () -> ALL);
            assertEquals(Tile.W128x256, forced.choose("kk", 28672, 320, 1, true, ALL, b));
            assertTrue(MMA.contains(forced.choose("kn", 28672, 320, 1, true, MMA, b)));
        } finally {
            System.clearProperty("puppet.cuda.gemm.tile");
        }
        // a wgmma tile that failed validation is never chosen, not even by the heuristic
        GemmTuner broken = new GemmTuner(H100, 132, null, false, () -> EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.T64x128, Tile.W128x128));
        assertEquals(Tile.W128x128, broken.choose("kk", 28672, 320, 1, true, ALL, b));
        // the warp-specialised tiles win by timing only: here the fastest once the plain wide tile failed validation
        GemmTuner noWide = new GemmTuner(H100, 132, null, true, () -> EnumSet.complementOf(EnumSet.of(Tile.W128x256)));
        assertEquals(Tile.TMA128x256, noWide.choose("kk", 28672, 320, 1, true, ALL, b));
        Set<Tile> noTmaCandidates = EnumSet.copyOf(ALL);   // a product TMA cannot copy
        noTmaCandidates.removeAll(Tile.TMA);
        assertEquals(Tile.WS128x256, noWide.choose("kk-gather", 28672, 320, 1, true, noTmaCandidates, b));
        GemmTuner onlyWs = new GemmTuner(H100, 132, null, false, () -> EnumSet.of(Tile.T128x128, Tile.WS128x128, Tile.WS128x256));
        assertEquals(Tile.T128x128, onlyWs.choose("kk", 28672, 320, 1, true, ALL, b), "untimed, the heuristic keeps to tiles it knows");
        GemmTuner heur = new GemmTuner(H100, 132, null, false, () -> ALL);
        assertEquals(Tile.W128x256, heur.choose("big", 28672, 320, 1, true, ALL, b), "every SM gets a 128x256 tile");
        assertEquals(Tile.W128x128, heur.choose("small", 448, 1280, 1, true, ALL, b));
    }

    @Test
    void cublasIsTimedAgainstTheTilesAndKeptWhereItWins() throws Exception {
        Path file = dir.resolve("gemm-tiles.json");
        Set<Tile> withCublas = EnumSet.copyOf(ALL);
        withCublas.add(Tile.CUBLAS);
        List<Tile> calls = new ArrayList<>();
        GemmTuner.Bench b = bench(Map.of(Tile.T128x128, 2.0, Tile.T128x64, 3.0, Tile.T64x128, 3.0, Tile.W128x128, 1.5, Tile.W128x256, 1.0,
                Tile.WS128x128, 1.2, Tile.WS128x256, 1.1, Tile.TMA128x128, 1.3, Tile.TMA128x256, 1.05, Tile.CUBLAS, 0.9), calls);
        GemmTuner g = new GemmTuner(H100, 132, file, true, () -> ALL);
        assertEquals(Tile.CUBLAS, g.choose("dense", 28672, 320, 1, true, withCublas, b));
        assertEquals(10, calls.size(), "every tile and cuBLAS timed");
        GemmTuner.Bench slowCublas = bench(Map.of(Tile.T128x128, 2.0, Tile.T128x64, 3.0, Tile.T64x128, 3.0, Tile.W128x128, 1.5, Tile.W128x256, 1.0,
                Tile.WS128x128, 1.2, Tile.WS128x256, 1.1, Tile.TMA128x128, 1.3, Tile.TMA128x256, 1.05, Tile.CUBLAS, 4.0), calls);
        assertEquals(Tile.W128x256, g.choose("conv3x3", 28672, 320, 1, true, withCublas, slowCublas), "a tile where it is faster (e.g. no column matrix)");
        GemmTuner later = new GemmTuner(H100, 132, file, true, () -> { throw new AssertionError("cached: nothing to validate"); });
        assertEquals(Tile.CUBLAS, later.choose("dense", 28672, 320, 1, true, withCublas, t -> { throw new AssertionError("cached"); }));
        assertTrue(Files.readString(file).contains("cublas"), Files.readString(file));
        // untimed (tuning off, or in a capture) the vendor library is the guess where it is offered, and our tiles,
        // which would not be used, are not validated (a never-run kernel is not risked for nothing)
        GemmTuner off = new GemmTuner(H100, 132, null, false, () -> { throw new AssertionError("untimed cuBLAS: nothing to validate"); });
        assertEquals(Tile.CUBLAS, off.choose("x", 28672, 320, 1, true, withCublas, b));
        assertEquals(Tile.CUBLAS, off.choose("y", 28672, 320, 1, false, withCublas, b));
        // no tile of ours valid: cuBLAS still serves, no error; offered nowhere, the error stands
        GemmTuner broken = new GemmTuner(H100, 132, null, true, () -> EnumSet.noneOf(Tile.class));
        assertEquals(Tile.CUBLAS, broken.choose("z", 64, 64, 1, true, withCublas, t -> 1.0));
        assertThrows(CudaException.class, () -> broken.choose("w", 64, 64, 1, true, ALL, t -> 1.0));
        assertEquals(Tile.CUBLAS, Tile.of("cublas"));
        assertEquals("cublas", Tile.CUBLAS.label());
        assertTrue(!Tile.MMA.contains(Tile.CUBLAS) && !Tile.WGMMA.contains(Tile.CUBLAS) && !Tile.CUBLAS.wgmma());
    }

    @Test
    void entryPointsAndLaunchShapesMatchTheKernels() {
        // gemm_wgmma.cu's GEMM_WGMMA_TILES names, threads and Cfg / WsCfg SMEM (gemm_wgmma_ws_host_check pins the same numbers)
        assertEquals("gemm_mma_bf16_kn_128x64", Tile.T128x64.entry("bf16_kn"));
        assertEquals("gemm_wgmma_f16_mk_128x256", Tile.W128x256.entry("f16_mk"));
        assertEquals("gemm_wgmma_ws_bf16_kn_128x256", Tile.WS128x256.entry("bf16_kn"));
        assertEquals("gemm_wgmma_ws_f16_mn_128x128", Tile.TMA128x128.entry("f16_mn"), "the TMA tiles are the warp-specialised kernel");
        assertEquals("wgmma-ws-128x128", Tile.WS128x128.label());
        assertEquals("wgmma-tma-128x256", Tile.TMA128x256.label());
        assertEquals(Tile.WS128x128, Tile.of("wgmma-ws-128x128"));
        assertEquals(Tile.TMA128x256, Tile.of("wgmma-tma-128x256"));
        assertEquals(Tile.WS128x256.smem, Tile.TMA128x256.smem);
        assertEquals(List.of(132096, 197632, 199760, 216112), List.of(Tile.W128x128.smem, Tile.W128x256.smem, Tile.WS128x128.smem, Tile.WS128x256.smem));
        assertEquals(List.of(256, 256, 384, 384), List.of(Tile.W128x128.threads, Tile.W128x256.threads, Tile.WS128x128.threads, Tile.WS128x256.threads));
        // gemm_ws takes the tensor-map arguments: the "ws" and "tma" tiles, no other
        for (Tile t : Tile.values())
            assertEquals(t.entry("bf16_kk").startsWith("gemm_wgmma_ws_"), t.warpSpecialised(), t.toString());
        for (Tile t : Tile.WGMMA) assertTrue(t.smem <= 227 * 1024, t + ": an sm_90 block has 227 KB of shared memory");
    }

    @Test
    void cacheFileIsPerDeviceUnderTheConfiguredDirectory() {
        String old = System.getProperty("puppet.cuda.tuneCache");
        System.setProperty("puppet.cuda.tuneCache", dir.toString());
        try {
            assertEquals(dir.resolve("gemm-tiles-NVIDIA_H100_80GB_HBM3_sm_90_132sm.json"), GemmTuner.defaultCacheFile(H100, 132));
        } finally {
            if (old == null) System.clearProperty("puppet.cuda.tuneCache");
            else System.setProperty("puppet.cuda.tuneCache", old);
        }
    }

    /**
     * Without a usable home (the JVM's user.home is "?" for a uid with no passwd entry) the cache is off, not "?/.cache"
     * made in the working directory; a relative XDG_CACHE_HOME is ignored, as the XDG spec says; $HOME serves where
     * user.home is "?".
     */
    @Test
    void noCacheWithoutAnAbsoluteHome() {
        assertEquals(null, GemmTuner.cacheDirectory(null, null, "?", null));
        assertEquals(null, GemmTuner.cacheDirectory(null, "cache", "?", ""));
        assertEquals(Path.of("/home/u/.cache/puppet-engine"), GemmTuner.cacheDirectory(null, "cache", "?", "/home/u"));
        assertEquals(Path.of("/x/puppet-engine"), GemmTuner.cacheDirectory(null, "/x", "?", null));
        assertEquals(Path.of("/home/v/.cache/puppet-engine"), GemmTuner.cacheDirectory(null, "", "/home/v", "/home/u"));
        assertEquals(Path.of("rel"), GemmTuner.cacheDirectory("rel", "/x", "/home/v", null), "-Dpuppet.cuda.tuneCache as given");
    }

    /** A cache that cannot be written is said once (with where to put one), not at every shape tuned: a GPU run tunes a hundred. */
    @Test
    void anUnwritableCacheIsSaidOnce() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "").resolve("gemm-tiles.json");   // its folder cannot be made, even by root
        PrintStream was = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            GemmTuner g = new GemmTuner(H100, 132, file, true, () -> EnumSet.allOf(Tile.class));   // no file yet: nothing to say
            for (int m : new int[]{448, 896, 1792})
                g.choose("bf16_kk m=" + m + " n=1280 k=1280", m, 1280, 1, true, MMA, bench(Map.of(Tile.T128x128, 2.0, Tile.T128x64, 1.5, Tile.T64x128, 1.0), new ArrayList<>()));
        } finally {
            System.setErr(was);
        }
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(1, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).startsWith("WARN could not write the GEMM tuning cache " + file) && lines.get(0).endsWith(
                "; tuning again in each process (-Dpuppet.cuda.tuneCache=DIR puts the cache in a writable DIR)"), lines.get(0));
    }
}
