package dev.puppetengine.backend.cuda;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.HostData;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.cpu.CpuBackend;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.runtime.cudaStream_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.IntToDoubleFunction;
import java.util.function.Predicate;


/**
 * The one GEMM interface: C = alpha * A B + beta * C per batch, row-major operands given as (pointer, row stride,
 * column stride, batch stride) in elements, with an {@link Epilogue} (bias, residual, GEGLU gate) that every path
 * applies before its one rounding to C (kernels/epilogue.cuh). Three paths:
 * <ol>
 *   <li>cuBLAS (GemmStridedBatchedEx, fp32 compute, so bf16 operands accumulate in fp32 and fp32 stays true fp32,
 *       no TF32) when libcublas.so.12 loads and the strides are a plain or transposed matrix layout
 *       ({@link #cublasTakes});</li>
 *   <li>our tensor-core kernels (kernels/gemm_mma.cu, mma.sync, sm_80+; on sm_90 kernels/gemm_wgmma.cu) for bf16/f16
 *       operands whose layout they take ({@link #mmaPlan}), including implicit-GEMM convolution;</li>
 *   <li>the tiled fp32-FMA kernel (kernels/gemm.cu): any dtype, any strides. Correct, slow.</li>
 * </ol>
 * Where 1 and 2 can both take a product, {@link GemmTuner} picks per shape among our block tiles and cuBLAS (for a
 * convolution: its column path), timed once per shape, device and kernel build, cached on disk; else 2 where it
 * can, else 1, else 3. cuBLAS has no such epilogue: with one, it writes an fp32 product and {@code gemm_epilogue}
 * finishes it; the tiled kernel does the same for GEGLU. {@code -Dpuppet.cuda.gemm=mma} skips cuBLAS,
 * {@code =tiled} uses only the tiled kernel (to test each path on a machine that has cuBLAS). The paths in use are
 * logged once.
 */
final class CudaGemm {
    private static final Logger LOG = LoggerFactory.getLogger(CudaGemm.class);

    /** A GEMM operand: a strided matrix, or an im2col view of an image (implicit-GEMM convolution). */
    sealed interface Operand permits Mat, Im2col {
        CUdeviceptr ptr();

        DType dtype();
    }

    /** A batch of row-major matrices: element (b, r, c) at ptr + b*bs + r*rs + c*cs (elements). */
    record Mat(CUdeviceptr ptr, DType dtype, long rs, long cs, long bs) implements Operand {}

    /**
     * The column matrix of a convolution over the channels-last image at ptr (N, H, W, Cin), never materialised:
     * row = output pixel (b, oy, ox), column = (ky, kx, ci). Only the tensor-core kernel reads it. dh, dw: the image
     * read dilated (dh - 1 rows, dw - 1 columns of zeros between its pixels; 1 = as it is), as a strided
     * convolution's input gradient reads the output gradient.
     */
    record Im2col(CUdeviceptr ptr, DType dtype, long pixels, int h, int w, int cin, int kh, int kw, int ho, int wo,
                  int sh, int sw, int pt, int pl, int dh, int dw) implements Operand {
        Im2col(CUdeviceptr ptr, DType dtype, long pixels, int h, int w, int cin, int kh, int kw, int ho, int wo, int sh, int sw, int pt, int pl) {
            this(ptr, dtype, pixels, h, w, cin, kh, kw, ho, wo, sh, sw, pt, pl, 1, 1);
        }

        long cols() { return (long) kh * kw * cin; }

        /**
         * The map's shape for the tuning key: two convolutions alike in m, n and k (3x3 pad 1 on 32x32 and pad 0 on
         * 34x34, say) gather differently (edge taps, rows per tile), so a tile timed on one must not serve the other. The
         * output size too: the bottom and right padding are not words of their own, so one input and top-left padding can
         * give outputs of other shapes and the same pixel count (a stride-2 input gradient's 32x31 and 31x32).
         */
        String tuneKey() {
            return kh + "x" + kw + " s" + sh + "x" + sw + " p" + pt + "x" + pl + (dh > 1 || dw > 1 ? " d" + dh + "x" + dw : "") + " in" + h + "x" + w
                    + " out" + ho + "x" + wo;
        }
    }

    /** A bias added to every row of C (one value per column). */
    record Bias(CUdeviceptr ptr, DType dtype) {}

    /**
     * What a product does before its one rounding to C (kernels/epilogue.cuh): a bias per column (or null), a residual
     * of C's shape (or null; F32, BF16 or F16), or, {@code geglu}, the GEGLU gate: the product's n columns are a
     * projection's values then gates, and C gets n / 2 columns value * gelu(gate) (bias over all n; no residual, beta 0).
     */
    record Epilogue(Bias bias, Mat residual, boolean geglu) {
        static final Epilogue NONE = new Epilogue(null, null, false);

        Epilogue {
            if (geglu && residual != null) throw new IllegalArgumentException("a GEGLU epilogue takes no residual");
            if (residual != null && residual.dtype() != DType.F32 && residual.dtype() != DType.BF16 && residual.dtype() != DType.F16)
                throw new IllegalArgumentException("a GEMM residual must be F32, BF16 or F16, got " + residual.dtype());
        }

        static Epilogue of(Bias bias, Mat residual) { return new Epilogue(bias, residual, false); }

        boolean any() { return bias != null || residual != null || geglu; }

        /** The kernels' residual arguments {pointer, dtype code, row stride, column stride, batch stride}. */
        Object[] residualArgs() {
            return residual == null ? new Object[]{null, 0, 0L, 0L, 0L}
                    : new Object[]{residual.ptr(), CudaBackend.code(residual.dtype()), residual.rs(), residual.cs(), residual.bs()};
        }

        Object[] biasArgs() {
            return new Object[]{bias == null ? null : bias.ptr(), bias == null ? 0 : CudaBackend.code(bias.dtype())};
        }
    }

    /**
     * How the tensor-core kernels take a product: its kind ("bf16_kk": dtype, then A's and B's layout, k = K-major,
     * m / n = MN-major; with a tile, the entry point) and its two kernel Operand structs (kernels/gemm_tile.cuh).
     */
    record MmaPlan(String kind, long[] a, long[] b) {}

    private final CudaBackend backend;
    private final cublasHandle handle;
    private final boolean tensorCores;
    private final GemmTuner tuner;
    /** The tensor-core tiles this device can run: gemm_mma.cu's, and on sm_90 gemm_wgmma.cu's. */
    private final Set<GemmTuner.Tile> available;
    /** Timing a tile (see {@link #perRun}): launches per event pair (at least, at most), pairs, a pair's target span. */
    static final int TUNE_REPS = 3, TUNE_MAX_REPS = 200, TUNE_PAIRS = 5;
    static final double TUNE_PAIR_MS = 0.5;

    CudaGemm(CudaBackend backend) {
        this.backend = backend;
        String mode = System.getProperty("puppet.cuda.gemm", "cublas");
        if (!mode.equals("cublas") && !mode.equals("mma") && !mode.equals("tiled"))
            throw new IllegalArgumentException("-Dpuppet.cuda.gemm=" + mode + ": expected cublas, mma or tiled");
        tensorCores = !mode.equals("tiled");
        cublasHandle h = null;
        String why = null;
        if (!mode.equals("cublas")) {
            why = "-Dpuppet.cuda.gemm=" + mode;
        } else {
            try {
                JCublas2.setExceptionsEnabled(false);
                h = new cublasHandle();
                int rc = JCublas2.cublasCreate(h);
                if (rc != 0) { why = "cublasCreate returned " + rc; h = null; }
                else {
                    rc = JCublas2.cublasSetStream(h, new cudaStream_t(backend.computeStream()));
                    if (rc != 0) throw new CudaException("cublasSetStream failed: " + rc);
                }
            } catch (LinkageError e) {
                why = "JCublas did not load (" + Cu.linkFailure(e) + ")";
                LOG.debug("JCublas's load error in full: {}", e.getMessage());
                h = null;
            }
        }
        handle = h;
        // gemm_wgmma.cu's sm_90a cubin runs on sm_90 only; -Dpuppet.cuda.gemm.hopper=false keeps to gemm_mma.cu's
        // tiles there too: what an sm_80/sm_89 GPU runs, so an H100 can measure that path against cuBLAS
        boolean hopper = backend.computeCapability() == 90 && Boolean.parseBoolean(System.getProperty("puppet.cuda.gemm.hopper", "true"));
        available = EnumSet.copyOf(GemmTuner.Tile.MMA);
        if (hopper) {
            available.addAll(GemmTuner.Tile.WGMMA);
            String noTma = !Boolean.parseBoolean(System.getProperty("puppet.cuda.tma", "true")) ? "-Dpuppet.cuda.tma=false" : TensorMaps.unavailable();
            if (noTma != null) {
                available.removeAll(GemmTuner.Tile.TMA);
                LOG.info("CUDA GEMM: no TMA copies ({}); the warp-specialised wgmma kernel copies by cp.async", noTma);
            }
        }
        GemmTuner.Tile forced = GemmTuner.Tile.forced();
        // for the GPU checks (-Dpuppet.cuda.gemm.tile.strict=true): a forced tile this device cannot run (TMA off,
        // another GPU's tile) must not let a products-* step pass on other tiles unseen
        if (forced != null && forced != GemmTuner.Tile.CUBLAS && !available.contains(forced) && Boolean.getBoolean("puppet.cuda.gemm.tile.strict"))
            throw new CudaException("-Dpuppet.cuda.gemm.tile=" + forced.suffix() + " cannot run on " + backend.deviceKey() + " (tiles here: "
                    + available.stream().map(GemmTuner.Tile::suffix).toList() + ") and -Dpuppet.cuda.gemm.tile.strict=true");
        boolean tune = Boolean.parseBoolean(System.getProperty("puppet.cuda.gemm.tune", "true"));
        // one cache file per device, driver and kernel build: two builds on one machine keep their own choices, and a
        // new driver (whose TMA the tiles' validation depends on: TensorMaps' small-tensor workaround) tunes anew
        String build = backend.deviceKey() + ", driver " + backend.driverVersion() + ", kernels " + CudaBackend.kernelsDigest("gemm_mma", "gemm_wgmma")
                + (!hopper && backend.computeCapability() == 90 ? ", sm_80 tiles" : "");   // hopper=false's choices never serve the full set
        tuner = new GemmTuner(build, backend.multiprocessors(), GemmTuner.defaultCacheFile(build, backend.multiprocessors()), tune, this::validateTiles);
        String ours = !tensorCores ? "kernels/gemm.cu (tiled) only"
                : (hopper ? "kernels/gemm_wgmma.cu (wgmma) or " : "") + "kernels/gemm_mma.cu (tensor cores) for bf16/f16, else kernels/gemm.cu (tiled)"
                + (!hopper && backend.computeCapability() == 90 ? " (-Dpuppet.cuda.gemm.hopper=false: the sm_80 path)" : "");
        if (h != null) LOG.info("CUDA GEMM: cuBLAS (libcublas.so.12, fp32 accumulation) and {}; the faster per shape where both can take a product{}",
                ours, tune ? "" : " (untuned: cuBLAS)");
        else LOG.info("CUDA GEMM: {}, because {}", ours, why);
        if (h == null && forced == GemmTuner.Tile.CUBLAS)
            LOG.warn("-Dpuppet.cuda.gemm.tile=cublas has no effect: cuBLAS is not in use ({}); the tuner chooses among the tiles", why);
    }

    boolean usesCublas() { return handle != null; }

    /** The GEMM paths that served products since the last {@link #drainPaths} (bench rows name them). */
    private final Set<String> paths = new LinkedHashSet<>();

    /** Products this thread runs while the tuner times its candidates are not served: they write scratch (or are redone). */
    private final ThreadLocal<int[]> timing = ThreadLocal.withInitial(() -> new int[1]);

    private synchronized void served(String path) { if (timing.get()[0] == 0) paths.add(path); }

    /** "cublas", "cublas+epilogue", "mma-128x64", "wgmma-128x256", "tiled", ... in first-use order; clears the record. */
    synchronized List<String> drainPaths() {
        List<String> p = new ArrayList<>(paths);
        paths.clear();
        return p;
    }

    void gemm(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c) {
        gemm(batch, m, n, k, alpha, a, b, beta, c, Epilogue.NONE);
    }

    /** The largest m, n or k: the kernels round them up to whole tiles (at most 256) in 32-bit arithmetic. */
    static final int MAX_DIM = Integer.MAX_VALUE - 255;

    /** {@code v} as a product dimension; refused, naming {@code what}, where the kernels' tile arithmetic would wrap. */
    static int dim(long v, String what) {
        if (v > MAX_DIM) throw new UnsupportedOperationException(what + ": " + v + " > " + MAX_DIM + " (the GEMM kernels index tiles in 32 bits)");
        return (int) v;
    }

    private static void dims(int m, int n, int k) {
        dim(m, "GEMM rows (m)");
        dim(n, "GEMM columns (n)");
        dim(k, "GEMM reduction length (k)");
    }

    /** C = alpha A B (+ beta C), finished by {@code ep}; for GEGLU, n counts the product's columns (C has n / 2). */
    void gemm(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c, Epilogue ep) {
        if (batch == 0 || m == 0 || n == 0) return;
        dims(m, n, k);
        if (ep.geglu() && (n % 2 != 0 || beta != 0f)) throw new IllegalArgumentException("GEGLU product: n must be even and beta 0, got n=" + n + " beta=" + beta);
        // cuBLAS competes with the tensor-core tiles where both can take the product (the tuner times them all)
        boolean viaCublas = handle != null && cublasTakes(m, n, k, a, b, ep.any() ? null : c);
        if (tensorCores && mma(batch, m, n, k, alpha, a, b, beta, c, ep,
                viaCublas ? sc -> cublasProduct(batch, m, n, k, alpha, a, b, 0f, sc, ep) : null, null)) return;
        if (viaCublas) {
            cublasProduct(batch, m, n, k, alpha, a, b, beta, c, ep);
            return;
        }
        served("tiled");
        if (ep.geglu()) viaProduct(batch, m, n, ep, p -> { tiled(batch, m, n, k, 1f, a, b, 0f, p, Epilogue.NONE); return true; }, alpha, beta, c);
        else tiled(batch, m, n, k, alpha, a, b, beta, c, ep);
    }

    private void tiled(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c, Epilogue ep) {
        backend.launch("gemm", "gemm_tiled", (m + 15) / 16, (n + 15) / 16, Math.min(batch, 65535), 16, 16, 0,
                concat(new Object[]{batch, m, n, k, alpha,
                        a.ptr(), CudaBackend.code(a.dtype()), a.rs(), a.cs(), a.bs(),
                        b.ptr(), CudaBackend.code(b.dtype()), b.rs(), b.cs(), b.bs(),
                        beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs()}, ep.biasArgs(), ep.residualArgs()));
    }

    /**
     * The product into an fp32 temporary, then {@code gemm_epilogue} into C: for paths without a fused epilogue.
     * {@code product} writes the plain product (batch, m, n) into the Mat it gets, or returns false having launched nothing.
     */
    private boolean viaProduct(int batch, int m, int n, Epilogue ep, Predicate<Mat> product, float alpha, float beta, Mat c) {
        try (Tensor p = backend.empty(DType.F32, batch, m, n)) {
            if (!product.test(new Mat(backend.ptr(p), DType.F32, n, 1, (long) m * n))) return false;
            long total = (long) batch * m * nOut(n, ep);
            backend.launch1d("gemm", "gemm_epilogue", total,
                    concat(new Object[]{total, m, nOut(n, ep), ep.geglu() ? 1 : 0, alpha, backend.ptr(p)}, ep.biasArgs(), ep.residualArgs(),
                            new Object[]{beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs()}));
            return true;
        }
    }

    private static Object[] concat(Object[]... parts) {
        int n = 0;
        for (Object[] p : parts) n += p.length;
        Object[] all = new Object[n];
        int at = 0;
        for (Object[] p : parts) { System.arraycopy(p, 0, all, at, p.length); at += p.length; }
        return all;
    }

    /**
     * The tensor-core kernel's plan for A (m x k) times B (k x n), or null when it cannot take them: both operands
     * bf16 or both f16; each operand K-major (its K index contiguous) or MN-major (its M or N index contiguous), its
     * contiguous extent and its other stride multiples of 8 elements, so every 16-byte copy is whole and aligned;
     * batch strides multiples of 8 and base addresses 16-byte aligned for the same reason. An im2col operand needs
     * Cin % 8 == 0 (a copy then never straddles two taps) and no batch. Pure, so it is unit-tested without a GPU.
     */
    static MmaPlan mmaPlan(int batch, int m, int n, int k, Operand a, long aByteOffset, Operand b, long bByteOffset) {
        if (a.dtype() != b.dtype() || (a.dtype() != DType.BF16 && a.dtype() != DType.F16)) return null;
        if (batch > 65535 || aByteOffset % 16 != 0 || bByteOffset % 16 != 0) return null;
        if (a instanceof Im2col && b instanceof Im2col) return null;   // the kernels' k loops gather one operand at most
        // B (k x n) is read as the n x k matrix B^T, so both operands are (mn index, k index) below.
        Side sa = side(a, batch, m, k, false), sb = side(b, batch, n, k, true);
        if (sa == null || sb == null) return null;
        String layout = (sa.kMajor() ? "k" : "m") + (sb.kMajor() ? "k" : "n");
        return new MmaPlan((a.dtype() == DType.BF16 ? "bf16" : "f16") + "_" + layout, sa.struct(), sb.struct());
    }

    /**
     * One operand as the kernel reads it: K-major or not, and its Operand struct {ld, bs, rows, cols, gather, h, w,
     * cin, kw, ho, wo, sh, sw, pt, pl, dh, dw, fcin, fkw, fwo, fho, fdh, fdw} (the last six: {@link #fastDivisor}s).
     */
    private record Side(boolean kMajor, long[] struct) {}

    private static Side side(Operand o, int batch, int mn, int k, boolean transposed) {
        if (o instanceof Im2col g) {
            if (batch != 1 || g.cin() % 8 != 0 || !gatherFits(g)) return null;
            // the kernels read a gathered B as it is (gemm_tile.cuh: TileTaps); only an input gradient's A is dilated
            if (transposed && (g.dh() > 1 || g.dw() > 1)) return null;
            long[] st = {0, 0, g.pixels(), g.cols(), 1, g.h(), g.w(), g.cin(), g.kw(), g.ho(), g.wo(), g.sh(), g.sw(), g.pt(), g.pl(), g.dh(), g.dw(),
                    fastDivisor(g.cin()), fastDivisor(g.kw()), fastDivisor(g.wo()), fastDivisor(g.ho()), fastDivisor(g.dh()), fastDivisor(g.dw())};
            // Memory rows are pixels. A gathered A (a forward or an input gradient) has the pixel as its M index:
            // K-major; a gathered B (a weight gradient) has it as its K index: N-major. Fixed by the side, not
            // guessed from sizes: where pixels == kh * kw * Cin both guesses would fit, and one is the wrong product.
            boolean fits = transposed ? g.pixels() == k && g.cols() == mn : g.pixels() == mn && g.cols() == k;
            if (!fits) throw new IllegalArgumentException("im2col operand (" + g.pixels() + " pixels x " + g.cols() + ") does not fit "
                    + (transposed ? "B as (K = pixels) x N" : "A as (M = pixels) x K") + ": " + mn + " x " + k);
            return new Side(!transposed, st);
        }
        Mat d = (Mat) o;
        long sMN = transposed ? d.cs() : d.rs(), sK = transposed ? d.rs() : d.cs();
        if (batch > 1 && d.bs() % 8 != 0) return null;
        if (sK == 1 && sMN % 8 == 0 && k % 8 == 0) return denseFits(sMN, mn, k) ? new Side(true, dense(sMN, d.bs(), mn, k)) : null;
        if (sMN == 1 && sK % 8 == 0 && mn % 8 == 0) return denseFits(sK, k, mn) ? new Side(false, dense(sK, d.bs(), k, mn)) : null;
        return null;
    }

    /**
     * Whether a dense operand's batch entry (rows x cols, row stride ld) spans at most 2^31 elements, so its last
     * element's offset is below 2^31: gemm_tile.cuh's DenseCopies keeps each copy's offset in 32 bits.
     */
    static boolean denseFits(long ld, long rows, long cols) {
        return rows == 0 || (rows - 1) * ld + cols <= 1L << 31;
    }

    /** Extents a gather's window corner may reach: gemm_tile.cuh's GatherRow packs it in 16-bit halves. */
    static final int GATHER_EXTENT = 1 << 14;

    /**
     * Whether the kernels can gather g: its image (dilated) and its window positions within {@link #GATHER_EXTENT}
     * per side, and its elements at most 2^31 (gemm_tile.cuh's gather_at finds them by 32-bit offsets).
     */
    static boolean gatherFits(Im2col g) {
        long images = g.pixels() / ((long) g.ho() * g.wo());
        long[] extents = {(long) g.h() * g.dh(), (long) g.w() * g.dw(), (long) g.ho() * g.sh(), (long) g.wo() * g.sw(), Math.abs(g.pt()), Math.abs(g.pl())};
        for (long e : extents) if (e >= GATHER_EXTENT) return false;
        return images * g.h() * g.w() * g.cin() <= 1L << 31;
    }

    /** Fields of kernels/gemm_tile.cuh's Operand struct. */
    static final int OPERAND_FIELDS = 23;

    /**
     * kernels/common.cuh's fast_divisor of d (1 .. 2^31): with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d)
     * + 1, the kernel computes n / d for 0 <= n < 2^31 as (umulhi(n, m) + n) >> s, no division instruction. Packed
     * as m | s << 32.
     */
    static long fastDivisor(long d) {
        if (d < 1 || d > 1L << 31) throw new IllegalArgumentException("fast divisor of " + d + ": expected 1 .. 2^31");
        int sh = 64 - Long.numberOfLeadingZeros(d - 1);   // ceil(log2 d)
        long m = Long.divideUnsigned((1L << 32) * ((1L << sh) - d), d) + 1;
        return m | (long) sh << 32;
    }

    /** The Operand struct of a dense matrix (the gather's fields zero). */
    static long[] dense(long ld, long bs, long rows, long cols) {
        long[] st = new long[OPERAND_FIELDS];
        st[0] = ld;
        st[1] = bs;
        st[2] = rows;
        st[3] = cols;
        return st;
    }

    /**
     * A product with an im2col operand (implicit-GEMM convolution) on the tensor-core kernel. Returns false, having
     * launched nothing, where that kernel is not the path (-Dpuppet.cuda.gemm=tiled, dtype or channels it cannot take,
     * or, with cuBLAS loaded, the tuner timed {@code columns} faster): the caller then materialises the column matrix
     * and calls {@link #gemm}. {@code columns} runs that column path once, writing C in full (the tuner times it).
     * {@code prepare} (or null) writes what the tensor-core path reads and the column path does not (a backward-input
     * conv's flipped weights): it runs before each tile launch, timed ones included (part of that path's cost), and
     * not at all where the tuner chose the columns.
     */
    boolean implicit(int m, int n, int k, float alpha, Operand a, Operand b, float beta, Mat c, Epilogue ep, Runnable columns, Runnable prepare) {
        if (beta != 0f) throw new IllegalArgumentException("implicit GEMM with beta " + beta + ": the column path's timing run overwrites C");
        dims(m, n, k);
        return implicitAvailable() && mma(1, m, n, k, alpha, a, b, beta, c, ep, handle != null ? sc -> columns.run() : null, prepare);
    }

    /** The tuner's key for a product: what sets each tile's time and whether the other path (cuBLAS, or the columns) competes. */
    static String tuneKey(MmaPlan plan, int batch, int m, int n, int k, Operand a, Operand b, DType c, Epilogue ep, boolean other) {
        return plan.kind() + " m=" + m + " n=" + n + " k=" + k + " batch=" + batch + (a instanceof Im2col g ? " conv " + g.tuneKey() : "")
                + (b instanceof Im2col g ? " dW " + g.tuneKey() : "") + (ep.geglu() ? " geglu" : "")
                // cuBLAS finishes an epilogue in a second pass
                + " c=" + c + (ep.bias() != null ? " +bias" : "") + (ep.residual() != null ? " +res" : "") + (other ? " +cublas" : "");
    }

    /** Whether products with an im2col operand can run here at all (not in tiled-only mode). */
    boolean implicitAvailable() { return tensorCores; }

    /**
     * The product on the tensor-core tile the tuner picks; false, having launched nothing, where no tile can take it
     * or the tuner picked {@code cublas}: the other path ({@code Tile.CUBLAS}: cuBLAS, or a convolution's column path),
     * offered where it exists (else null), which the tuner times by running it once into a scratch C (beta 0).
     */
    private boolean mma(int batch, int m, int n, int k, float alpha, Operand a, Operand b, float beta, Mat c, Epilogue ep,
                        Consumer<Mat> cublas, Runnable prepare) {
        // GEGLU reads B's N index in runs of 8 (kernels/epilogue.cuh: geglu_source), so the half must keep them aligned.
        if (ep.geglu() && ((n / 2) % 8 != 0 || b instanceof Im2col)) return false;
        MmaPlan plan = mmaPlan(batch, m, n, k, a, DevicePointers.byteOffset(a.ptr()), b, DevicePointers.byteOffset(b.ptr()));
        if (plan == null) return false;
        String key = tuneKey(plan, batch, m, n, k, a, b, c.dtype(), ep, cublas != null);
        Set<GemmTuner.Tile> candidates = EnumSet.copyOf(available);
        if (!Collections.disjoint(available, GemmTuner.Tile.TMA)   // off the TMA path: no plans to make
                && tmaPlan(plan, true, 128, batch, ep) == null && tmaPlan(plan, false, 128, batch, ep) == null)
            candidates.removeAll(GemmTuner.Tile.TMA);   // no operand TMA can copy: the TMA tiles would be the cp.async ones again
        if (cublas != null) candidates.add(GemmTuner.Tile.CUBLAS);
        Runnable ready = prepare != null ? prepare : () -> {};   // in every timed run too: part of the path's cost
        GemmTuner.Tile tile = tuner.choose(key, m, n, batch, !backend.capturing(), candidates,
                t -> time(batch, m, nOut(n, ep), c.dtype(), t == GemmTuner.Tile.CUBLAS ? cublas
                        : sc -> { ready.run(); launchMma(plan, t, batch, m, n, k, alpha, a, b, 0f, sc, ep); }));
        if (tile == GemmTuner.Tile.CUBLAS) return false;
        ready.run();
        launchMma(plan, tile, batch, m, n, k, alpha, a, b, beta, c, ep);
        served(tile.label());
        return true;
    }


    private void launchMma(MmaPlan plan, GemmTuner.Tile tile, int batch, int m, int n, int k, float alpha, Operand a, Operand b, float beta,
                           Mat c, Epilogue ep) {
        launchMma(plan, tile, batch, m, n, k, alpha, a, b, beta, c, ep, backend.multiprocessors());
    }

    /** {@code maxBlocks}: the persistent kernel's grid cap (validation also runs it with 1, so one block walks every tile). */
    private void launchMma(MmaPlan plan, GemmTuner.Tile tile, int batch, int m, int n, int k, float alpha, Operand a, Operand b, float beta,
                           Mat c, Epilogue ep, int maxBlocks) {
        Object[] args = concat(new Object[]{m, n, k, alpha, a.ptr(), plan.a(), b.ptr(), plan.b(), beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs()},
                ep.biasArgs(), ep.residualArgs(), new Object[]{ep.geglu() ? n / 2 : 0});
        if (tile.warpSpecialised())
            args = concat(args, new Object[]{batch}, tensorMap(tile, plan, true, a, batch, ep), tensorMap(tile, plan, false, b, batch, ep));
        else if (tile.wgmma())
            args = concat(args, new Object[]{batch});
        if (tile.wgmma())   // persistent: at most one block per SM walks the output tiles
            backend.launch(tile.module, tile.entry(plan.kind()), Math.min(tile.blocks(m, n, batch), maxBlocks), 1, 1, tile.threads, 1,
                    tile.smem, args);
        else
            backend.launch(tile.module, tile.entry(plan.kind()), (m + tile.bm - 1) / tile.bm, (n + tile.bn - 1) / tile.bn, batch, tile.threads, 1, 0, args);
    }

    private static final long[] NO_MAP = new long[16];

    /**
     * The TMA plan of plan's A ({@code forA}) or B, on a tile of {@code tileRows} rows (tiled, or im2col for a
     * gather), or null where TMA cannot copy it, as for a GEGLU product's B, read in interleaved runs of 8 (the
     * copy's geglu_source). The operand's layout is the plan kind's: "bf16_kn" is A K-major, B N-major.
     */
    static TensorMaps.MapPlan tmaPlan(MmaPlan plan, boolean forA, int tileRows, int batch, Epilogue ep) {
        if (!forA && ep.geglu()) return null;
        String layout = plan.kind().substring(plan.kind().indexOf('_') + 1);
        return TensorMaps.plan(forA ? plan.a() : plan.b(), layout.charAt(forA ? 0 : 1) == 'k', tileRows, batch);
    }

    /**
     * gemm_ws's {map, mode} arguments for one operand: an encoded tensor map on a TMA tile where TMA can copy the
     * operand, else an empty map and mode 0 (cp.async). A map the driver refuses (an unusual stride or alignment)
     * also falls back to cp.async.
     */
    private final AtomicBoolean tmaRefusalSaid = new AtomicBoolean();

    private Object[] tensorMap(GemmTuner.Tile tile, MmaPlan plan, boolean forA, Operand op, int batch, Epilogue ep) {
        TensorMaps.MapPlan p = tile.tma ? tmaPlan(plan, forA, forA ? tile.bm : tile.bn, batch, ep) : null;
        if (p == null) return new Object[]{NO_MAP, 0};
        try {
            return new Object[]{TensorMaps.encode(p, plan.kind().startsWith("bf16"), DevicePointers.address(op.ptr()), backend.driverVersion()), p.mode()};
        } catch (CudaException e) {   // unexpected (the plan found it TMA-able): said once loudly, or a "TMA" tile could pass on cp.async unseen
            if (tmaRefusalSaid.compareAndSet(false, true)) LOG.warn("TMA off for an operand the driver refused (further ones at debug): {}", e.getMessage());
            else LOG.debug("TMA off for one operand: {}", e.getMessage());
            return new Object[]{NO_MAP, 0};
        }
    }

    private static int nOut(int n, Epilogue ep) { return ep.geglu() ? n / 2 : n; }

    /** Milliseconds per run of {@code product} into a scratch C (batch x m x nOut of {@code ct}); run once untimed first. */
    private double time(int batch, int m, int nOut, DType ct, Consumer<Mat> product) {
        timing.get()[0]++;
        try (Tensor scratch = backend.empty(ct, batch, m, nOut)) {
            Mat sc = new Mat(backend.ptr(scratch), ct, nOut, 1, (long) m * nOut);
            product.accept(sc);   // module load, caches
            return perRun(n -> backend.timeMillis(() -> {
                for (int i = 0; i < n; i++) product.accept(sc);
            }));
        } finally {
            timing.get()[0]--;
        }
    }

    /**
     * Milliseconds per run from {@code timed} (milliseconds for n runs back to back between two events): one run sizes
     * the repetitions so that a pair spans about TUNE_PAIR_MS (an event pair around a few 5 us launches is mostly event
     * resolution and launch jitter), then the median of TUNE_PAIRS pairs (a clock change or another process's kernel
     * moves one pair, not the median). A run of a millisecond or more needs neither: one pair of TUNE_REPS.
     */
    static double perRun(IntToDoubleFunction timed) {
        double once = timed.applyAsDouble(1);
        int reps = (int) Math.min(TUNE_MAX_REPS, Math.max(TUNE_REPS, Math.ceil(TUNE_PAIR_MS / Math.max(once, 1e-4))));
        int pairs = once >= 1 ? 1 : TUNE_PAIRS;
        double[] t = new double[pairs];
        for (int p = 0; p < pairs; p++) t[p] = timed.applyAsDouble(reps) / reps;
        Arrays.sort(t);
        return t[pairs / 2];
    }

    /**
     * The tiles whose products match the CPU reference here: each runs a bf16 product with ragged edges (136 x 200,
     * k = 72) in all four operand layouts (and in f16, whose kernel entries are separate) (gemm_wgmma.cu's tiles also
     * on a grid of one block, which then walks every output tile: its persistent loop), then, in the forward layout,
     * with the two epilogues sampling uses (bias + residual; bias + GEGLU gate), and implicit-GEMM convolutions (a 3x3
     * one's forward and weight gradient, the temporal conv's 3x1 forward, a stride-2 3x3 forward and its input
     * gradient, whose gather is dilated; 64 channels: TMA im2col on the TMA tiles), all into fp32 C; and the forward
     * product and the GEGLU one (store_tile's two walks) into bf16 C and into f16 C, as the engine's activations are
     * stored (st()'s 16-bit conversions). Each C is compared in double: relative error under 1e-3 (the inputs are
     * exact in bf16 (f16) on both sides, only fp32 accumulation and the gelu's float evaluation differ), plus one
     * rounding to a 16-bit C ({@link #rounding}). Each C starts NaN-poisoned and lies between poisoned guard bytes
     * that must come back bit-exact: a store just past an edge of C would land, on a GPU, in a neighbouring
     * allocation. Runs once, before any timing; first in a child process (GemmProbe), so a tile whose kernel faults
     * on this GPU costs that tile, not this process's CUDA context.
     */
    private Set<GemmTuner.Tile> validateTiles() {
        boolean probe = Boolean.parseBoolean(System.getProperty("puppet.cuda.gemm.probe", "true"));
        Set<GemmTuner.Tile> ok = validate(probe ? GemmProbe.survivors(available) : available);
        // for the GPU checks (-Dpuppet.cuda.gemm.strictValidation=true): a tile that fails validation is a failed
        // check, not a tile the engine silently never uses while the harness passes on another
        if (Boolean.getBoolean("puppet.cuda.gemm.strictValidation") && !ok.containsAll(available)) {
            Set<GemmTuner.Tile> bad = EnumSet.copyOf(available);
            bad.removeAll(ok);
            throw new CudaException("tensor-core GEMM tiles " + bad + " failed validation against the CPU reference (-Dpuppet.cuda.gemm.strictValidation=true)");
        }
        return ok;
    }

    /** The CPU matrix x (r, c) on the device stored both ways, (r, c) and (c, r), each as a Mat of the (r, c) operand. */
    private Mat[] bothStorages(Tensor x) {
        int r = x.size(0), c = x.size(1);
        Tensor rows = x.to(backend), cols = CpuBackend.get().copy(x.transpose(0, 1), x.dtype()).to(backend);
        return new Mat[]{new Mat(backend.ptr(rows), x.dtype(), c, 1, 0), new Mat(backend.ptr(cols), x.dtype(), 1, r, 0)};
    }

    /** The tiles of {@code tiles} whose products match the CPU reference here (validateTiles' checks, in this process). */
    Set<GemmTuner.Tile> validate(Set<GemmTuner.Tile> tiles) {
        int m = 136, n = 200, k = 72;
        Set<GemmTuner.Tile> ok = EnumSet.noneOf(GemmTuner.Tile.class);
        CpuBackend cpu = CpuBackend.get();
        Random rnd = new Random(20261201);
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.of(cpu, DType.BF16, new int[]{m, k}, rnd.doubles((long) m * k, -1, 1).toArray());
            Tensor b = Tensor.of(cpu, DType.BF16, new int[]{k, n}, rnd.doubles((long) k * n, -1, 1).toArray());
            double[] want = cpu.matmul(cpu.copy(a, DType.F64), cpu.copy(b, DType.F64)).toDoubleArray();
            Mat[] as = bothStorages(a), bs = bothStorages(b);
            // the same in f16: kernel entries of their own (gemm_*_f16_*: f16 mma, f16 tensor maps)
            Tensor a16 = cpu.copy(a, DType.F16), b16 = cpu.copy(b, DType.F16);
            double[] want16 = cpu.matmul(cpu.copy(a16, DType.F64), cpu.copy(b16, DType.F64)).toDoubleArray();
            Mat[] as16 = bothStorages(a16), bs16 = bothStorages(b16);
            // x W^T (W = B^T, (n, k)) + bias + residual, and the GEGLU of its first 2d columns
            int d = 96;
            Tensor bias = Tensor.of(cpu, DType.BF16, new int[]{n}, rnd.doubles(n, -1, 1).toArray());
            Tensor res = Tensor.of(cpu, DType.BF16, new int[]{m, n}, rnd.doubles((long) m * n, -1, 1).toArray());
            Tensor a64 = cpu.copy(a, DType.F64), w64 = cpu.copy(b.transpose(0, 1), DType.F64), bias64 = cpu.copy(bias, DType.F64);
            double[] wantRes = cpu.linear(a64, w64, bias64, cpu.copy(res, DType.F64)).toDoubleArray();
            double[] wantGeglu = cpu.linearGeglu(a64, w64.narrow(0, 0, 2 * d), bias64.narrow(0, 0, 2 * d)).toDoubleArray();
            double[] wantGeglu16 = cpu.linearGeglu(cpu.copy(a16, DType.F64), cpu.copy(b16.transpose(0, 1), DType.F64).narrow(0, 0, 2 * d),
                    bias64.narrow(0, 0, 2 * d)).toDoubleArray();
            Tensor biasDev = bias.to(backend), resDev = res.to(backend);
            Bias bv = new Bias(backend.ptr(biasDev), DType.BF16);
            Epilogue withResidual = Epilogue.of(bv, new Mat(backend.ptr(resDev), DType.BF16, n, 1, 0)), geglu = new Epilogue(bv, null, true);
            // implicit-GEMM convolution, 3x3 stride 1 pad 1 over x (2, 5, 7, 64) to 40 channels: the forward (A gathered,
            // K-major) and the weight gradient (B gathered, N-major); 64 channels, so gemm_ws's TMA tiles use im2col maps
            ConvSpec spec = ConvSpec.of(1, 1);
            int imgs = 2, hh = 5, ww = 7, cin = 64, cout = 40, px = imgs * hh * ww, kk = 9 * cin;
            Tensor x = Tensor.of(cpu, DType.BF16, new int[]{imgs, hh, ww, cin}, rnd.doubles((long) px * cin, -1, 1).toArray());
            Tensor wt = Tensor.of(cpu, DType.BF16, new int[]{cout, 3, 3, cin}, rnd.doubles((long) cout * kk, -1, 1).toArray());
            Tensor gy = Tensor.of(cpu, DType.BF16, new int[]{imgs, hh, ww, cout}, rnd.doubles((long) px * cout, -1, 1).toArray());
            Tensor x64 = cpu.copy(x, DType.F64);
            double[] wantConv = cpu.conv2d(x64, cpu.copy(wt, DType.F64), null, null, spec).toDoubleArray();
            double[] wantDw = cpu.conv2dBackwardWeight(cpu.copy(gy, DType.F64), x64, new int[]{cout, 3, 3, cin}, spec).toDoubleArray();
            Tensor xDev = x.to(backend), wDev = wt.to(backend), gyDev = gy.to(backend);
            Im2col cols = new Im2col(backend.ptr(xDev), DType.BF16, px, hh, ww, cin, 3, 3, hh, ww, 1, 1, 1, 1);
            Mat wT = new Mat(backend.ptr(wDev), DType.BF16, 1, kk, 0), gyT = new Mat(backend.ptr(gyDev), DType.BF16, 1, cout, 0);
            // and the temporal conv's shape: kernel (3, 1), padding along H only (unequal corners for an im2col map)
            ConvSpec specT = new ConvSpec(1, 1, 1, 1, 0, 0);
            Tensor wt3 = Tensor.of(cpu, DType.BF16, new int[]{cout, 3, 1, cin}, rnd.doubles((long) cout * 3 * cin, -1, 1).toArray());
            double[] wantT = cpu.conv2d(x64, cpu.copy(wt3, DType.F64), null, null, specT).toDoubleArray();
            Tensor w3Dev = wt3.to(backend);
            Im2col colsT = new Im2col(backend.ptr(xDev), DType.BF16, px, hh, ww, cin, 3, 1, hh, ww, 1, 1, 1, 0);
            Mat w3T = new Mat(backend.ptr(w3Dev), DType.BF16, 1, 3 * cin, 0);
            // and a downsampler's: 3x3 stride 2 over x2 (2, 17, 19, 64): 180 output pixels, so the second M tile's first
            // pixel is mid-row (the stride enters its im2col coordinates)
            ConvSpec spec2 = ConvSpec.of(2, 1);
            int h2 = 17, w2 = 19, ho2 = spec2.outH(h2, 3), wo2 = spec2.outW(w2, 3), px2 = imgs * ho2 * wo2;
            Tensor x2 = Tensor.of(cpu, DType.BF16, new int[]{imgs, h2, w2, cin}, rnd.doubles((long) imgs * h2 * w2 * cin, -1, 1).toArray());
            double[] want2 = cpu.conv2d(cpu.copy(x2, DType.F64), cpu.copy(wt, DType.F64), null, null, spec2).toDoubleArray();
            Tensor x2Dev = x2.to(backend);
            Im2col cols2 = new Im2col(backend.ptr(x2Dev), DType.BF16, px2, h2, w2, cin, 3, 3, ho2, wo2, 2, 2, 1, 1);
            // and its input gradient as CudaBackend runs it: gy gathered dilated by the stride (the only dilated gather)
            // times the flipped weights (kh, kw, Cout, Cin), N-major
            int pxIn2 = imgs * h2 * w2;
            Tensor gy2 = Tensor.of(cpu, DType.BF16, new int[]{imgs, ho2, wo2, cout}, rnd.doubles((long) imgs * ho2 * wo2 * cout, -1, 1).toArray());
            double[] wantDx2 = cpu.conv2dBackwardInput(cpu.copy(gy2, DType.F64), cpu.copy(wt, DType.F64), new int[]{imgs, h2, w2, cin}, spec2).toDoubleArray();
            double[] wv = wt.toDoubleArray(), wflip = new double[wv.length];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    for (int co = 0; co < cout; co++)
                        System.arraycopy(wv, ((co * 3 + 2 - ky) * 3 + 2 - kx) * cin, wflip, ((ky * 3 + kx) * cout + co) * cin, cin);
            Tensor gy2Dev = gy2.to(backend), wflipDev = Tensor.of(cpu, DType.BF16, new int[]{9 * cout, cin}, wflip).to(backend);
            Im2col dilated = new Im2col(backend.ptr(gy2Dev), DType.BF16, pxIn2, ho2, wo2, cout, 3, 3, h2, w2, 1, 1, 1, 1, 2, 2);
            Mat wflipN = new Mat(backend.ptr(wflipDev), DType.BF16, cin, 1, 0);
            // and a strided batch of 2 (A and B per entry: rank-3 tensor maps), and the same with B shared by both
            Tensor a3 = Tensor.of(cpu, DType.BF16, new int[]{2, m, k}, rnd.doubles(2L * m * k, -1, 1).toArray());
            Tensor b3 = Tensor.of(cpu, DType.BF16, new int[]{2, k, n}, rnd.doubles(2L * k * n, -1, 1).toArray());
            Tensor a364 = cpu.copy(a3, DType.F64);
            double[] wantBatch = cpu.matmul(a364, cpu.copy(b3, DType.F64)).toDoubleArray();
            double[] wantShared = cpu.matmul(a364, cpu.copy(b, DType.F64)).toDoubleArray();
            Tensor a3Dev = a3.to(backend), b3Dev = b3.to(backend);
            Mat a3m = new Mat(backend.ptr(a3Dev), DType.BF16, k, 1, (long) m * k), b3m = new Mat(backend.ptr(b3Dev), DType.BF16, n, 1, (long) k * n);
            for (GemmTuner.Tile t : tiles) {
                double worst = 0;
                try {
                    int all = backend.multiprocessors();
                    for (Mat am2 : as)
                        for (Mat bm2 : bs)
                            for (int cap : t.wgmma() ? new int[]{all, 1} : new int[]{all})
                                worst = Math.max(worst, trial(t, 1, m, n, k, am2, bm2, DType.F32, Epilogue.NONE, cap, want));
                    for (Mat am2 : as16)
                        for (Mat bm2 : bs16)
                            worst = Math.max(worst, trial(t, 1, m, n, k, am2, bm2, DType.F32, Epilogue.NONE, all, want16));
                    worst = Math.max(worst, trial(t, 1, m, n, k, as[0], bs[1], DType.F32, withResidual, all, wantRes));
                    worst = Math.max(worst, trial(t, 1, m, 2 * d, k, as[0], bs[1], DType.F32, geglu, all, wantGeglu));
                    worst = Math.max(worst, trial(t, 1, m, n, k, as[0], bs[1], DType.BF16, Epilogue.NONE, all, want));
                    worst = Math.max(worst, trial(t, 1, m, 2 * d, k, as[0], bs[1], DType.BF16, geglu, all, wantGeglu));
                    worst = Math.max(worst, trial(t, 1, m, n, k, as16[0], bs16[1], DType.F16, Epilogue.NONE, all, want16));
                    worst = Math.max(worst, trial(t, 1, m, 2 * d, k, as16[0], bs16[1], DType.F16, geglu, all, wantGeglu16));
                    worst = Math.max(worst, trial(t, 1, px, cout, kk, cols, wT, DType.F32, Epilogue.NONE, all, wantConv));
                    worst = Math.max(worst, trial(t, 1, cout, kk, px, gyT, cols, DType.F32, Epilogue.NONE, all, wantDw));
                    worst = Math.max(worst, trial(t, 1, px, cout, 3 * cin, colsT, w3T, DType.F32, Epilogue.NONE, all, wantT));
                    worst = Math.max(worst, trial(t, 1, px2, cout, kk, cols2, wT, DType.F32, Epilogue.NONE, all, want2));
                    worst = Math.max(worst, trial(t, 1, pxIn2, cin, 9 * cout, dilated, wflipN, DType.F32, Epilogue.NONE, all, wantDx2));
                    worst = Math.max(worst, trial(t, 2, m, n, k, a3m, b3m, DType.F32, Epilogue.NONE, all, wantBatch));
                    worst = Math.max(worst, trial(t, 2, m, n, k, a3m, bs[0], DType.F32, Epilogue.NONE, all, wantShared));
                } catch (CudaException e) {   // e.g. a launch this device refuses: the tile is not usable here
                    LOG.error("tensor-core GEMM tile {} failed to run: {}", t.suffix(), e.getMessage());
                    backend.synchronize();   // but a fault (illegal address or instruction) is sticky: this throws, ending the validation
                    continue;
                }
                if (worst < 1e-3) ok.add(t);
                else LOG.error("tensor-core GEMM tile {}: relative error {} (beyond C's rounding) against the CPU reference: never used", t.suffix(), worst);
            }
        }
        return ok;
    }

    /** Bytes on each side of a validation C that must stay poison: a store past an edge of C starts in them. */
    private static final int GUARD_BYTES = 4096;

    /**
     * One validation product on {@code tile} (grid capped at {@code maxBlocks}) into a fresh C of dtype {@code ct},
     * (batch, m, n) contiguous (n / 2 columns for GEGLU), with GUARD_BYTES on each side; all of it all-ones bytes first
     * (NaN in f32, bf16 and f16: an element never written fails the comparison). Returns its relative error less
     * C's {@link #rounding}, or infinity where a guard byte changed.
     */
    private double trial(GemmTuner.Tile tile, int batch, int m, int n, int k, Operand a, Operand b, DType ct, Epilogue ep,
                         int maxBlocks, double[] want) {
        int cols = nOut(n, ep), bytes = Math.toIntExact((long) batch * m * cols * ct.bytes());
        try (Tensor guarded = backend.empty(DType.U8, bytes + 2 * GUARD_BYTES)) {
            CUdeviceptr base = backend.ptr(guarded);
            Cu.check(JCudaDriver.cuMemsetD8Async(base, (byte) 0xff, bytes + 2 * GUARD_BYTES, backend.computeStream()), "cuMemsetD8Async (validation C)");
            Mat c = new Mat(base.withByteOffset(GUARD_BYTES), ct, cols, 1, (long) m * cols);
            launchMma(mmaPlan(batch, m, n, k, a, 0, b, 0), tile, batch, m, n, k, 1f, a, b, 0f, c, ep, maxBlocks);
            ByteBuffer got = guarded.toBytes();
            for (int i = 0; i < GUARD_BYTES; i++) {
                int before = GUARD_BYTES - 1 - i, after = GUARD_BYTES + bytes + i;   // i bytes from C's start and end
                if (got.get(before) != -1 || got.get(after) != -1) {
                    LOG.error("tensor-core GEMM tile {} wrote outside C ({} C of {} x {}, batch {}): byte {} {} it", tile.suffix(), ct, m, cols,
                            batch, i + 1, got.get(before) != -1 ? "before" : "after");
                    return Double.POSITIVE_INFINITY;
                }
            }
            return relativeError(want, HostData.decode(got.position(GUARD_BYTES), ct, want.length)) - rounding(ct);
        }
    }

    /**
     * The most one rounding to C's dtype adds to a trial's relative error: rounding to nearest moves each element by
     * at most 2^-p of itself (p significand bits: bf16 8, f16 11), so the error's norm by at most 2^-p of the
     * product's (f16's subnormals, under 2^-14, by at most 2^-25 each: nothing next to these products' norms).
     * The bound for a 16-bit C is then 1e-3 + 2^-p; an fp32 C holds the fp32 accumulator as it is.
     */
    private static double rounding(DType ct) {
        return switch (ct) {
            case BF16 -> 0x1p-8;
            case F16 -> 0x1p-11;
            default -> 0;
        };
    }

    /** ||got - want|| / ||want||; a NaN anywhere (an unwritten element) gives infinity, which fails every bound. */
    private static double relativeError(double[] want, double[] got) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        double e = Math.sqrt(num / Math.max(den, 1e-300));
        return Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
    }

    /** Column-major view of a row-major rows x cols operand: {transposed?, leading dim}, or null if not BLAS-shaped. */
    private static long[] blas(long rows, long cols, long rs, long cs) {
        if (cols == 1) cs = 1;                     // never stepped: any stride will do
        if (rows == 1 && cs == 1) rs = Math.max(rs, cols);
        if (rows == 1 && cs != 1 && cols > 1) { rs = 1; }
        if (cs == 1 && rs >= Math.max(1, cols)) return new long[]{0, rs};
        if (rs == 1 && cs >= Math.max(1, rows)) return new long[]{1, cs};
        return null;
    }

    private static int type(DType t) {
        switch (t) {
            case F32: return cudaDataType.CUDA_R_32F;
            case BF16: return cudaDataType.CUDA_R_16BF;
            case F16: return cudaDataType.CUDA_R_16F;
            default: return -1;
        }
    }

    /**
     * Whether cuBLAS can take A (m x k) times B (k x n) into C: BLAS-shaped operands of one supported dtype, C not
     * transposed, leading dimensions in int range. {@code c} null: an fp32 temporary (the epilogue path's).
     */
    static boolean cublasTakes(int m, int n, int k, Mat a, Mat b, Mat c) {
        if (a.dtype() != b.dtype() || type(a.dtype()) < 0) return false;
        long[] la = blas(m, k, a.rs(), a.cs()), lb = blas(k, n, b.rs(), b.cs()), lc = c == null ? new long[]{0, n} : blas(m, n, c.rs(), c.cs());
        if (la == null || lb == null || lc == null || lc[0] != 0 || (c != null && type(c.dtype()) < 0)) return false;
        return la[1] <= Integer.MAX_VALUE && lb[1] <= Integer.MAX_VALUE && lc[1] <= Integer.MAX_VALUE;
    }

    /** The product on cuBLAS ({@link #cublasTakes} holds), its epilogue, if any, by gemm_epilogue from an fp32 temporary. */
    private void cublasProduct(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c, Epilogue ep) {
        if (!ep.any()) {
            cublas(batch, m, n, k, alpha, a, b, beta, c);
            served("cublas");
        } else {
            viaProduct(batch, m, n, ep, p -> cublas(batch, m, n, k, 1f, a, b, 0f, p), alpha, beta, c);
            served("cublas+epilogue");
        }
    }

    /** Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets (n, m, k) with B first. */
    private boolean cublas(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c) {
        if (!cublasTakes(m, n, k, a, b, c)) throw new IllegalStateException("cuBLAS cannot take this product: " + m + "x" + n + "x" + k);
        long[] la = blas(m, k, a.rs(), a.cs()), lb = blas(k, n, b.rs(), b.cs()), lc = blas(m, n, c.rs(), c.cs());
        int opB = lb[0] == 0 ? cublasOperation.CUBLAS_OP_N : cublasOperation.CUBLAS_OP_T;
        int opA = la[0] == 0 ? cublasOperation.CUBLAS_OP_N : cublasOperation.CUBLAS_OP_T;
        backend.notForeignCapture("cublasGemmStridedBatchedEx");
        // Host pointer mode: alpha/beta are read now (and baked into a captured graph: they are constants of the op).
        int rc = JCublas2.cublasGemmStridedBatchedEx_new(handle, opB, opA, n, m, k, Pointer.to(new float[]{alpha}),
                b.ptr(), type(b.dtype()), (int) lb[1], b.bs(),
                a.ptr(), type(a.dtype()), (int) la[1], a.bs(),
                Pointer.to(new float[]{beta}), c.ptr(), type(c.dtype()), (int) lc[1], c.bs(),
                batch, cublasComputeType.CUBLAS_COMPUTE_32F, -1 /* CUBLAS_GEMM_DEFAULT */);
        if (rc != 0) throw new CudaException("cublasGemmStridedBatchedEx (m=" + m + " n=" + n + " k=" + k + " batch=" + batch + ", "
                + a.dtype() + " -> " + c.dtype() + ") failed: cublasStatus " + rc);
        backend.checkAfterLaunch("cublasGemmStridedBatchedEx");
        return true;
    }
}
