// Fallback GEMM when cuBLAS does not load: C = alpha * A B + beta * C (+ bias per column) per batch, every operand addressed by
// (row stride, column stride, batch stride), so transposed and broadcast (stride 0) views need no copy.
// Shared-memory tiles of 16x16, fp32 accumulation. Correct, not fast: cuBLAS is the production path.
#include "common.cuh"

#define TS 16

extern "C" __global__ void gemm_tiled(int batch, int m, int n, int k, float alpha,
                                      const void* A, int ta, long long ars, long long acs, long long abs_,
                                      const void* B, int tb, long long brs, long long bcs, long long bbs,
                                      float beta, void* C, int tc, long long crs, long long ccs, long long cbs,
                                      const void* bias, int tbias) {
  __shared__ float As[TS][TS + 1], Bs[TS][TS + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  int row = blockIdx.y * TS + ty, col = blockIdx.x * TS + tx;
  for (int b = blockIdx.z; b < batch; b += gridDim.z) {
    float acc = 0.f;
    for (int k0 = 0; k0 < k; k0 += TS) {
      int ka = k0 + tx, kb = k0 + ty;
      As[ty][tx] = (row < m && ka < k) ? ld(A, ta, b * abs_ + row * ars + ka * acs) : 0.f;
      Bs[ty][tx] = (kb < k && col < n) ? ld(B, tb, b * bbs + kb * brs + col * bcs) : 0.f;
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < TS; kk++) acc += As[ty][kk] * Bs[kk][tx];
      __syncthreads();
    }
    if (row < m && col < n) {
      long long ci = b * cbs + row * crs + col * ccs;
      float r = alpha * acc;
      if (beta != 0.f) r += beta * ld(C, tc, ci);  // beta == 0 never reads C (it may hold poison)
      if (bias) r += ld(bias, tbias, col);         // per output column, fused
      st(C, tc, ci, r);
    }
  }
}
