package dev.puppetengine.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Tensor maps for the bulk tensor copy engine (TMA) of kernels/gemm_wgmma.cu's warp-specialised GEMM: the CUDA
 * driver's cuTensorMapEncodeTiled, which JCuda 12.6 does not bind, called through a small JNI library
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
    record Plan(long[] dims, long[] strideBytes, int[] box) {
        int rank() { return dims.length; }
    }

    /**
     * The plan for an operand given as gemm_wgmma.cu's Operand struct ({ld, bs, rows, cols, gather, ...}), K-major or
     * not, whose tile has {@code tileRows} rows along M or N (BM for A, BN for B), or null where TMA cannot copy it
     * (an im2col gather, or nothing to copy). The boxes are the kernel's (tma_box): K-major (64 k, tileRows rows), one per tile; MN-major
     * (64 mn, 64 k rows), one per 64-wide strip; 128 bytes wide, as the 128-byte swizzle requires.
     */
    static Plan plan(long[] operand, boolean kMajor, int tileRows, int batch) {
        long ld = operand[0], bs = operand[1], rows = operand[2], cols = operand[3];
        if (operand[4] != 0 || rows <= 0 || cols <= 0) return null;   // a gather, or an empty operand (k = 0)
        int[] box2 = kMajor ? new int[]{64, tileRows} : new int[]{64, 64};
        if (batch > 1 && bs > 0)
            return new Plan(new long[]{cols, rows, batch}, new long[]{2 * ld, 2 * bs}, new int[]{box2[0], box2[1], 1});
        return new Plan(new long[]{cols, rows}, new long[]{2 * ld}, box2);
    }

    /** Null when maps can be encoded (the library loaded; the driver is checked at the first encode), else why not. */
    static String unavailable() { return UNLOADED; }

    /**
     * The 16 words of the tensor map for {@code plan} over bf16 (or f16) memory at device address {@code address}.
     * Throws CudaException when the driver refuses it (it checks alignment, strides and box against the hardware).
     */
    static long[] encode(Plan plan, boolean bf16, long address) {
        if (UNLOADED != null) throw new CudaException("TMA tensor maps unavailable: " + UNLOADED);
        long[] map = new long[16];
        int rc = encode16(map, bf16, address, plan.dims(), plan.strideBytes(), plan.box());
        if (rc != 0) throw new CudaException("cuTensorMapEncodeTiled(dims " + java.util.Arrays.toString(plan.dims()) + ", strides "
                + java.util.Arrays.toString(plan.strideBytes()) + " B, box " + java.util.Arrays.toString(plan.box()) + ", address 0x"
                + Long.toHexString(address) + "): " + reason(rc));
        return map;
    }

    static String reason(int rc) {
        return switch (rc) {
            case -1 -> "libcuda.so.1 (the CUDA driver) did not load";
            case -2 -> "the CUDA driver has no cuTensorMapEncodeTiled (older than CUDA 12)";
            case -3 -> "bad arguments (rank 1-5, positive dims, strides and box)";
            default -> "CUresult " + rc + " (" + jcuda.driver.CUresult.stringFor(rc) + ")";
        };
    }

    private static native int encode16(long[] out, boolean bf16, long address, long[] dims, long[] strides, int[] box);

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
