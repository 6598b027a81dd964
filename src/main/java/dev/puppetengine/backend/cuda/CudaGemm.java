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

/**
 * The one GEMM interface: C = alpha * A B + beta * C per batch, row-major operands given as (pointer, row stride,
 * column stride, batch stride) in elements. cuBLAS (GemmStridedBatchedEx, fp32 compute, so bf16 operands accumulate
 * in fp32 and fp32 stays true fp32, no TF32) when libcublas.so.12 loads and the strides are a plain or transposed
 * matrix layout; otherwise the built-in tiled kernel (kernels/gemm.cu), which takes any strides. The choice is
 * logged once. {@code -Dpuppet.cuda.gemm=builtin} forces the kernel (to test it on a machine with cuBLAS).
 */
final class CudaGemm {
    private static final Logger LOG = LoggerFactory.getLogger(CudaGemm.class);

    /** A batch of row-major matrices: element (b, r, c) at ptr + b*bs + r*rs + c*cs (elements). */
    record Mat(CUdeviceptr ptr, DType dtype, long rs, long cs, long bs) {}

    private final CudaBackend backend;
    private final cublasHandle handle;

    CudaGemm(CudaBackend backend) {
        this.backend = backend;
        cublasHandle h = null;
        String why = null;
        if ("builtin".equals(System.getProperty("puppet.cuda.gemm"))) {
            why = "-Dpuppet.cuda.gemm=builtin";
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
        if (h != null) LOG.info("CUDA GEMM: cuBLAS (libcublas.so.12), fp32 accumulation");
        else LOG.info("CUDA GEMM: built-in tiled kernel (kernels/gemm.cu) because {}", why);
    }

    boolean usesCublas() { return handle != null; }

    void gemm(int batch, int m, int n, int k, float alpha, Mat a, Mat b, float beta, Mat c) {
        if (batch == 0 || m == 0 || n == 0) return;
        if (handle != null && a.dtype() == b.dtype() && cublas(batch, m, n, k, alpha, a, b, beta, c)) return;
        int gz = Math.min(batch, 65535);
        backend.launch("gemm", "gemm_tiled", (n + 15) / 16, (m + 15) / 16, gz, 16, 16, 0,
                batch, m, n, k, alpha,
                a.ptr(), CudaBackend.code(a.dtype()), a.rs(), a.cs(), a.bs(),
                b.ptr(), CudaBackend.code(b.dtype()), b.rs(), b.cs(), b.bs(),
                beta, c.ptr(), CudaBackend.code(c.dtype()), c.rs(), c.cs(), c.bs());
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

    void close() {
        if (handle != null) JCublas2.cublasDestroy(handle);
    }
}
