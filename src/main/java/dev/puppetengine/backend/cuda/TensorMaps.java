package dev.puppetengine.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import jcuda.driver.CUresult;

/**
 * Tensor maps for the bulk tensor copy engine (TMA) of kernels/gemm_wgmma.cu's warp-specialised GEMM: the CUDA
 * driver's cuTensorMapEncodeTiled and cuTensorMapEncodeIm2col, which JCuda 12.6 does not bind, called through a small JNI library
 * (src/main/native/tensor_map.c, built by kernels/build.sh into the classpath's /kernels/). Where that library is
 * missing (the build had no nvcc or no JDK headers) or cannot load, TMA is off and the kernel copies by cp.async.
 */
final class TensorMaps {
    private static final String RESOURCE = "/kernels/libpuppet_tensor_map.so";
    /** Why maps cannot be made here, or null when the library loaded (the driver is looked up at the first encode). */
    private static final String UNLOADED = load();

    private TensorMaps() {}

    /**
     * The map of one operand of gemm_wgmma.cu's gemm_ws: element (row, col) of batch entry b at
     * {@code address + 2 (b bs + row ld + col)}, rows x cols elements, read in boxes of {@code box} (innermost first).
     * A rank-3 map when the batch is stepped, else rank 2 (batch entries all read the same matrix).
     */
    record Plan(long[] dims, long[] strideBytes, int[] box) implements MapPlan {
        int rank() { return dims.length; }

        @Override
        public int mode() { return rank(); }
    }

    /**
     * An im2col map of a convolution's input x (N, H, W, Cin), channels-last: dims (Cin, W, H, N), pixel window
     * corners {@code lower} / {@code upper} and traversal {@code step} (the conv stride) (W, H), {@code channels} per
     * pixel and {@code pixels} per box.
     */
    record Im2colPlan(long[] dims, long[] strideBytes, int[] lower, int[] upper, int[] step, int channels, int pixels) implements MapPlan {
        @Override
        public int mode() { return IM2COL; }
    }

    /** A plan of either kind; {@link #mode()} is the kernel's rank_a / rank_b argument for it. */
    sealed interface MapPlan permits Plan, Im2colPlan {
        int mode();

        /** The tensor's extents, innermost first, in elements. */
        long[] dims();

        /** The byte strides of dims 1 .. rank - 1 (dim 0 is contiguous). */
        long[] strideBytes();

        /** The bytes from the tensor's first element to the end of its last (16-bit elements). */
        default long extentBytes() {
            long last = dims()[0] - 1;
            for (int i = 1; i < dims().length; i++) last += (dims()[i] - 1) * strideBytes()[i - 1] / 2;
            return 2 * (last + 1);
        }
    }

    /** gemm_wgmma.cu's IM2COL mode. */
    static final int IM2COL = 4;

    /**
     * The plan for an operand given as gemm_wgmma.cu's Operand struct ({ld, bs, rows, cols, gather, h, w, cin, kw, ho,
     * wo, sh, sw, pt, pl, dh, dw, ...}: CudaGemm.side), K-major or not, whose tile has {@code tileRows} rows along M or N (BM for A, BN for B), or
     * null where TMA cannot copy it (nothing to copy; a gather {@link #im2colPlan} refuses). A gather gets an im2col
     * plan, a dense operand a tiled one, whose boxes are the kernel's (tma_box): K-major (64 k, tileRows rows), one
     * per tile; MN-major (64 mn, 64 k rows), one per 64-wide strip; 128 bytes wide, as the 128-byte swizzle requires.
     */
    static MapPlan plan(long[] operand, boolean kMajor, int tileRows, int batch) {
        long ld = operand[0], bs = operand[1], rows = operand[2], cols = operand[3];
        if (rows <= 0 || cols <= 0) return null;   // an empty operand (k = 0): nothing to copy
        if (operand[4] != 0) return im2colPlan(operand, kMajor, tileRows);
        int[] box2 = kMajor ? new int[]{64, tileRows} : new int[]{64, 64};
        if (batch > 1 && bs > 0)
            return new Plan(new long[]{cols, rows, batch}, new long[]{2 * ld, 2 * bs}, new int[]{box2[0], box2[1], 1});
        return new Plan(new long[]{cols, rows}, new long[]{2 * ld}, box2);
    }

    /**
     * The im2col plan of a gather (gemm_wgmma.cu's im2col_box reads it): Cin % 64 == 0 (a 64-wide k step or strip is
     * 64 channels of one tap) and the image not dilated (TMA's im2col mode has no zeros between pixels), else null.
     * Pixel window, per spatial dim: from -pad (the first output pixel's top-left tap), traversed in steps of the conv
     * stride, (out - 1) stride + 1 wide (one position per output), so the upper corner is (out - 1) stride + 1 - size
     * - pad (pad - (kernel - 1) at stride 1 with equal padding); corners and
     * steps W first, as the dims (CUTLASS passes them so). 64 channels per pixel; pixels per box: the tile's rows when
     * K-major (pixels along M), 64 when MN-major (pixels along K).
     */
    private static Im2colPlan im2colPlan(long[] o, boolean kMajor, int tileRows) {
        long rows = o[2], h = o[5], w = o[6], cin = o[7], ho = o[9], wo = o[10], sh = o[11], sw = o[12], pt = o[13], pl = o[14],
                dh = o[15], dw = o[16];
        int[] lower = {(int) -pl, (int) -pt}, upper = {(int) ((wo - 1) * sw + 1 - w - pl), (int) ((ho - 1) * sh + 1 - h - pt)};
        if (cin % 64 != 0 || dh > 1 || dw > 1) return null;
        if (sw > 8 || sh > 8) return null;   // the driver's traversal strides go to 8
        for (int c : new int[]{lower[0], lower[1], upper[0], upper[1]}) if (c < -128 || c > 127) return null;   // rank 4's corner range
        long images = rows / (ho * wo);
        return new Im2colPlan(new long[]{cin, w, h, images}, new long[]{2 * cin, 2 * cin * w, 2 * cin * w * h}, lower, upper,
                new int[]{(int) sw, (int) sh}, 64, kMajor ? tileRows : 64);
    }

    /** Null when maps can be encoded (the library loaded; the driver is checked at the first encode), else why not. */
    static String unavailable() { return UNLOADED; }

    /**
     * The 16 words of the tensor map for {@code plan} over bf16 (or f16) memory at device address {@code address},
     * for a driver of {@code driverVersion} (cuDriverGetVersion: {@link #smallTensorWorkaround}). Throws
     * CudaException when the driver refuses it (it checks alignment, strides and box against the hardware).
     */
    static long[] encode(MapPlan plan, boolean bf16, long address, int driverVersion) {
        if (UNLOADED != null) throw new CudaException("TMA tensor maps unavailable: " + UNLOADED);
        long[] map = new long[16];
        int rc;
        String what;
        if (plan instanceof Plan p) {
            rc = encode16(map, bf16, address, p.dims(), p.strideBytes(), p.box());
            what = "cuTensorMapEncodeTiled(dims " + Arrays.toString(p.dims()) + ", strides " + Arrays.toString(p.strideBytes()) + " B, box "
                    + Arrays.toString(p.box());
        } else {
            Im2colPlan p = (Im2colPlan) plan;
            rc = encodeIm2col16(map, bf16, address, p.dims(), p.strideBytes(), p.lower(), p.upper(), p.step(), p.channels(), p.pixels());
            what = "cuTensorMapEncodeIm2col(dims " + Arrays.toString(p.dims()) + ", strides " + Arrays.toString(p.strideBytes()) + " B, corners "
                    + Arrays.toString(p.lower()) + " / " + Arrays.toString(p.upper()) + ", step " + Arrays.toString(p.step()) + ", "
                    + p.channels() + " channels x " + p.pixels() + " pixels";
        }
        if (rc != 0) throw new CudaException(what + ", address 0x" + Long.toHexString(address) + "): " + reason(rc));
        smallTensorWorkaround(map, plan, driverVersion);
        return map;
    }

    /** Drivers up to this version (13.1) need {@link #smallTensorWorkaround}. */
    static final int SMALL_TENSOR_BUG_UNTIL = 13010;
    /** The tensors it concerns span fewer bytes than this. */
    static final long SMALL_TENSOR_BYTES = 128 * 1024;

    /**
     * CUDA drivers up to 13.1 encode a map over a tensor of under 128 KiB such that kernels reading it occasionally
     * fail (CUTLASS's changelog, 4.3.4: "on Blackwell when the tensor's backing memory allocation is less than 128KB";
     * 4.7.0 calls the bit a promise that the first 128 KiB are mapped, so clearing it is the safe side). CUTLASS's
     * C++ clears bit 21 of the map's second 64-bit word after encoding, tiled and im2col maps alike, on every
     * architecture, when the driver is 13.1 or older and the tensor spans under 128 KiB; we do the same. The bit is
     * not documented. Many of the engine's maps are that small: every tile's validation product (136 x 72 of A), the
     * op harness's cases, the time embedding's products (28 rows).
     */
    static void smallTensorWorkaround(long[] map, MapPlan plan, int driverVersion) {
        if (driverVersion <= SMALL_TENSOR_BUG_UNTIL && plan.extentBytes() < SMALL_TENSOR_BYTES) map[1] &= ~(1L << 21);
    }

    static String reason(int rc) {
        return switch (rc) {
            case -1 -> "libcuda.so.1 (the CUDA driver) did not load";
            case -2 -> "the CUDA driver has no tensor-map encoder (older than CUDA 12)";
            case -3 -> "bad arguments (rank 1-5, positive dims, strides and box)";
            default -> "CUresult " + rc + " (" + CUresult.stringFor(rc) + ")";
        };
    }

    private static native int encode16(long[] out, boolean bf16, long address, long[] dims, long[] strides, int[] box);

    private static native int encodeIm2col16(long[] out, boolean bf16, long address, long[] dims, long[] strides, int[] lower, int[] upper,
                                             int[] step, int channels, int pixels);

    private static String load() {
        try (InputStream in = TensorMaps.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return RESOURCE + " is not on the classpath (the build had no nvcc or no JDK headers: kernels/build.sh)";
            Path tmp = Files.createTempFile("puppet_tensor_map", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            System.load(tmp.toAbsolutePath().toString());
            return null;
        } catch (IOException | UnsatisfiedLinkError e) {
            return RESOURCE + " did not load: " + e.getMessage();
        }
    }
}
