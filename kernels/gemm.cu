// The tiled GEMM for what neither the tensor-core kernels (bf16/f16 with aligned strides) nor cuBLAS take, and for
// -Dpuppet.cuda.gemm=tiled: C = alpha * A B + beta * C (+ bias per column, + a residual: epilogue.cuh)
// per batch, every operand addressed by (row stride, column stride, batch stride), so transposed and broadcast
// (stride 0) views need no copy. Shared-memory tiles of 16x16, fp32 accumulation. Correct, not fast.
// gemm_epilogue applies the epilogue to an fp32 product another kernel wrote (cuBLAS, or this one for GEGLU), so
// every path rounds to C once, after the same arithmetic.
#include "epilogue.cuh"

#define TS 16

extern "C" __global__ void gemm_tiled(int batch, int m, int n, int k, float alpha,
                                      const void* A, int ta, long long ars, long long acs, long long abs_,
                                      const void* B, int tb, long long brs, long long bcs, long long bbs,
                                      float beta, void* C, int tc, long long crs, long long ccs, long long cbs,
                                      const void* bias, int tbias, const void* R, int tr, long long rrs, long long rcs,
                                      long long rbs) {
  __shared__ float As[TS][TS + 1], Bs[TS][TS + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  // row tiles on grid x (up to 2^31 - 1): a video's VAE activations have more than y's 65535 tiles of rows
  int row = blockIdx.x * TS + ty, col = blockIdx.y * TS + tx;
  Residual res{R, tr, rrs, rcs, rbs};
  for (int b = blockIdx.z; b < batch; b += gridDim.z) {
    // each 16-wide k step summed in fp32, the steps in double: a weight gradient's K is every pixel of the batch
    // (~1M for a video's VAE), where one fp32 running sum drifts past 1e-5 of the float64 reference
    double acc = 0.0;
    for (int k0 = 0; k0 < k; k0 += TS) {
      int ka = k0 + tx, kb = k0 + ty;
      As[ty][tx] = (row < m && ka < k) ? ld(A, ta, b * abs_ + row * ars + ka * acs) : 0.f;
      Bs[ty][tx] = (kb < k && col < n) ? ld(B, tb, b * bbs + kb * brs + col * bcs) : 0.f;
      __syncthreads();
      float part = 0.f;
#pragma unroll
      for (int kk = 0; kk < TS; kk++) part += As[ty][kk] * Bs[kk][tx];
      acc += part;
      __syncthreads();
    }
    if (row < m && col < n) {
      long long ci = b * cbs + row * crs + col * ccs;
      float bv = bias ? ld(bias, tbias, col) : 0.f;
      with_residual_type(res, [&](auto rt) { st(C, tc, ci, epilogue<decltype(rt)::value>((float)acc, alpha, bv, res, b, row, col, beta, C, tc, ci)); });
    }
  }
}

// P: the fp32 product, contiguous (batch, m, pn) with pn = 2 * n for GEGLU (geglu != 0), else n; C: (batch, m, n).
extern "C" __global__ void gemm_epilogue(long long total, int m, int n, int geglu, float alpha, const float* P,
                                         const void* bias, int tbias, const void* R, int tr, long long rrs,
                                         long long rcs, long long rbs, float beta, void* C, int tc, long long crs,
                                         long long ccs, long long cbs) {
  Residual res{R, tr, rrs, rcs, rbs};
  int pn = geglu ? 2 * n : n;
  GRID_STRIDE(i, total) {
    int col = (int)(i % n);
    long long t = i / n;
    int row = (int)(t % m);
    long long b = t / m;
    const float* p = P + (b * m + row) * pn;
    long long ci = b * cbs + row * crs + col * ccs;
    float bv = bias ? ld(bias, tbias, col) : 0.f;
    if (geglu) st(C, tc, ci, geglu_epilogue(p[col], p[n + col], alpha, bv, bias ? ld(bias, tbias, n + col) : 0.f));
    else with_residual_type(res, [&](auto rt) { st(C, tc, ci, epilogue<decltype(rt)::value>(p[col], alpha, bv, res, b, row, col, beta, C, tc, ci)); });
  }
}
