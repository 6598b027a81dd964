// The GEMM epilogue, one definition for every path (gemm_mma.cu in its registers, gemm.cu's tiled kernel, and
// gemm_epilogue after cuBLAS or the tiled kernel wrote the fp32 product): what happens to alpha * (A B) before the
// one rounding to C's dtype. CpuBackend.linear / conv2d / linearGeglu are the reference.
//   plain:  v = alpha * acc + bias[col] (+ residual[row, col]) (+ beta * C[row, col])
//   GEGLU:  the product has 2D columns, value columns [0, D) and gate columns [D, 2D) of the projection;
//           h[row, j] = (alpha * acc_v + bias[j]) * gelu(alpha * acc_g + bias[D + j]), C has D columns.
// Fusing the residual saves writing the product and reading it back for the add; fusing GEGLU saves the 2D-wide
// product's round trip through memory (the feed-forward's biggest activation).
#pragma once
#include <type_traits>
#include "common.cuh"

// A residual added to the product (same shape as C), element (b, row, col) at b * bs + row * rs + col * cs.
struct Residual {
  const void* p;
  int t;
  long long rs, cs, bs;
};

// A load whose dtype is known at compile time (RT = DT_F32, DT_BF16 or DT_F16; -1 = no residual). The tensor-core
// kernel picks RT once per launch: a per-element dtype switch in its unrolled epilogue moved the accumulators to
// the stack.
template <int RT>
__device__ __forceinline__ float ld_t(const void* p, long long i) {
  if constexpr (RT == DT_F32) return ((const float*)p)[i];
  else if constexpr (RT == DT_BF16) return __bfloat162float(((const __nv_bfloat16*)p)[i]);
  else return __half2float(((const __half*)p)[i]);
}

template <int RT>
__device__ __forceinline__ float epilogue(float acc, float alpha, float bias, const Residual& r, long long b, int row,
                                          int col, float beta, const void* C, int tc, long long ci) {
  float v = alpha * acc + bias;
  if constexpr (RT >= 0) v += ld_t<RT>(r.p, b * r.bs + row * r.rs + col * r.cs);
  if (beta != 0.f) v += beta * ld(C, tc, ci);  // beta == 0 never reads C (it may hold poison)
  return v;
}

// Calls f(std::integral_constant<int, RT>) with the residual's dtype as a compile-time constant.
template <class F>
__device__ __forceinline__ void with_residual_type(const Residual& r, F&& f) {
  if (!r.p) f(std::integral_constant<int, -1>{});
  else if (r.t == DT_F32) f(std::integral_constant<int, DT_F32>{});
  else if (r.t == DT_BF16) f(std::integral_constant<int, DT_BF16>{});
  else f(std::integral_constant<int, DT_F16>{});
}

__device__ __forceinline__ float geglu_epilogue(float acc_v, float acc_g, float alpha, float bias_v, float bias_g) {
  return (alpha * acc_v + bias_v) * geluf_(alpha * acc_g + bias_g);
}

// The tensor-core kernels' GEGLU products read the projection's output index in groups of 16: 8 value columns, then
// the 8 gate columns of the same outputs. Logical column mn of the product is then column geglu_source(mn, D) of the
// projection, so staged columns p (p % 16 < 8) and p + 8 of a tile hold the value and the gate of the same output,
// which the epilogue's walk pairs (gemm_tile.cuh: store_tile). For a value column (mn % 16 < 8) geglu_source is also
// the output column. Needs D % 8 == 0 (runs of 8 stay contiguous for 16-byte copies).
__host__ __device__ inline int geglu_source(int mn, int half) {
  int w = mn % 16;
  return (mn / 16) * 8 + (w < 8 ? w : half + w - 8);
}
