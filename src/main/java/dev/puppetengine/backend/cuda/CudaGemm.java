package dev.puppetengine.backend.cuda;

import dev.puppetengine.tensor.DType;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.driver.CUdeviceptr;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.runtime.cudaStream_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The one GEMM interface: C = alpha * A B + beta * C per batch, row-major operands given as (pointer, row stride,
 * column stride, batch stride) in elements. Three paths, tried in order:
 * <ol>
 *   <li>cuBLAS (GemmStridedBatchedEx, fp32 compute, so bf16 operands accumulate in fp32 and fp32 stays true fp32,
 *       no TF32) when libcublas.so.12 loads and the strides are a plain or transposed matrix layout;</li>
 *   <li>our tensor-core kernel (kernels/gemm_mma.cu, mma.sync, sm_80+) for bf16/f16 operands whose layout it takes
 *       ({@link #mmaPlan});</li>
 *   <li>the tiled fp32-FMA kernel (kernels/gemm.cu): any dtype, any strides. Correct, slow.</li>
 * </ol>
 * {@code -Dpuppet.cuda.gemm=mma} skips cuBLAS, {@code =tiled} uses only the tiled kernel (to test each path on a
 * machine that has cuBLAS). The choice is logged once.
 */
final class CudaGemm {
    private static final Logger LOG = LoggerFactory.getLogger(CudaGemm.class);

    /** A batch of row-major matrices: element (b, r, c) at ptr + b*bs + r*rs + c*cs (elements). */
    record Mat(CUdeviceptr ptr, DType dtype, long rs, long cs, long bs) {}

    /** Which gemm_mma.cu entry point serves a product, with its operands' leading strides (elements). */
    record MmaPlan(String entry, long lda, long ldb) {}

    private final CudaBackend backend;
    private final cublasHandle handle;
    private final boolean tensorCores;

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
                why = "libcublas.so.12 did not load: " + e.getMessage();
                h = null;
            }
        }
        handle = h;
        String ours = tensorCores ? "kernels/gemm_mma.cu (tensor cores) for bf16/f16, else kernels/gemm.cu (tiled)" : "kernels/gemm.cu (tiled) only";
        if (h != null) LOG.info("CUDA GEMM: cuBLAS (libcublas.so.12), fp32 accumulation; products it cannot take: {}", ours);
        else LOG.info("CUDA GEMM: {}, because {}", ours, why);
    }

    boolean usesCublas() { return handle != null; }

    void gemm(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c) {
        if (batch == 0 || m == 0 || n == 0) return;
        if (handle != null && a.dtype() == b.dtype() && cublas(batch, m, n, k, alpha, a, b, beta, c)) return;
        MmaPlan plan = tensorCores ? mmaPlan(batch, m, n, k, a, byteOffset(a.ptr()), b, byteOffset(b.ptr())) : null;
        if (plan != null) {
            backend.launch("gemm_mma", plan.entry(), (n + 127) / 128, (m + 127) / 128, batch, 256, 1, 0,
                    m, n, k, alpha, a.ptr(), plan.lda(), a.bs(), b.ptr(), plan.ldb(), b.bs(),
                    beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs());
            return;
        }
        int gz = Math.min(batch, 65535);
        backend.launch("gemm", "gemm_tiled", (n + 15) / 16, (m + 15) / 16, gz, 16, 16, 0,
                batch, m, n, k, alpha,
                a.ptr(), CudaBackend.code(a.dtype()), a.rs(), a.cs(), a.bs(),
                b.ptr(), CudaBackend.code(b.dtype()), b.rs(), b.cs(), b.bs(),
                beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs());
    }

    /**
     * The tensor-core kernel's plan for A (m x k) times B (k x n), or null when it cannot take them: both operands
     * bf16 or both f16; each operand K-major (A's column stride 1, B's row stride 1) or MN-major (A's row stride 1,
     * B's column stride 1), its contiguous extent and its other stride multiples of 8 elements, so every 16-byte
     * copy is whole and aligned; batch strides multiples of 8 and base addresses 16-byte aligned for the same reason.
     * Pure, so the choice is unit-tested without a GPU.
     */
    static MmaPlan mmaPlan(int batch, int m, int n, int k, Mat a, long aByteOffset, Mat b, long bByteOffset) {
        if (a.dtype() != b.dtype() || (a.dtype() != DType.BF16 && a.dtype() != DType.F16)) return null;
        if (batch > 65535 || aByteOffset % 16 != 0 || bByteOffset % 16 != 0) return null;
        if (batch > 1 && (a.bs() % 8 != 0 || b.bs() % 8 != 0)) return null;
        String al, bl;
        long lda, ldb;
        if (a.cs() == 1 && a.rs() % 8 == 0 && k % 8 == 0) { al = "k"; lda = a.rs(); }
        else if (a.rs() == 1 && a.cs() % 8 == 0 && m % 8 == 0) { al = "m"; lda = a.cs(); }
        else return null;
        if (b.rs() == 1 && b.cs() % 8 == 0 && k % 8 == 0) { bl = "k"; ldb = b.cs(); }
        else if (b.cs() == 1 && b.rs() % 8 == 0 && n % 8 == 0) { bl = "n"; ldb = b.rs(); }
        else return null;
        return new MmaPlan("gemm_mma_" + (a.dtype() == DType.BF16 ? "bf16" : "f16") + "_" + al + bl, lda, ldb);
    }

    /**
     * The byte offset a device pointer carries past its cuMemAlloc base (256-byte aligned, so the offset decides
     * 16-byte alignment). JCuda keeps {@code Pointer.getByteOffset} protected; this reads it once per call site.
     */
    private static long byteOffset(CUdeviceptr p) {
        try {
            return (long) BYTE_OFFSET.invokeExact((Pointer) p);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot read a JCuda pointer's byte offset", e);
        }
    }

    private static final MethodHandle BYTE_OFFSET;
    static {
        try {
            BYTE_OFFSET = MethodHandles.privateLookupIn(Pointer.class, MethodHandles.lookup())
                    .findVirtual(Pointer.class, "getByteOffset", MethodType.methodType(long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
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

    /** Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets (n, m, k) with B first. */
    private boolean cublas(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c) {
        long[] la = blas(m, k, a.rs(), a.cs()), lb = blas(k, n, b.rs(), b.cs()), lc = blas(m, n, c.rs(), c.cs());
        if (la == null || lb == null || lc == null || lc[0] != 0 || type(a.dtype()) < 0 || type(c.dtype()) < 0) return false;
        if (la[1] > Integer.MAX_VALUE || lb[1] > Integer.MAX_VALUE || lc[1] > Integer.MAX_VALUE) return false;
        int opB = lb[0] == 0 ? cublasOperation.CUBLAS_OP_N : cublasOperation.CUBLAS_OP_T;
        int opA = la[0] == 0 ? cublasOperation.CUBLAS_OP_N : cublasOperation.CUBLAS_OP_T;
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

    void close() {
        if (handle != null) JCublas2.cublasDestroy(handle);
    }
}
