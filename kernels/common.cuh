// Shared helpers for every kernel file: dtype-generic loads/stores, strided layouts, reductions.
// Element types travel as a runtime code (see CudaBackend.code): one entry point per op instead of one per
// dtype. The switch is warp-uniform, so it costs a few instructions per element on memory-bound kernels.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

enum { DT_F32 = 0, DT_BF16 = 1, DT_F16 = 2, DT_F64 = 3, DT_I32 = 4, DT_I64 = 5, DT_U8 = 6 };

__device__ __forceinline__ double ldd(const void* p, int t, long long i) {
  switch (t) {
    case DT_F32: return ((const float*)p)[i];
    case DT_BF16: return __bfloat162float(((const __nv_bfloat16*)p)[i]);
    case DT_F16: return __half2float(((const __half*)p)[i]);
    case DT_F64: return ((const double*)p)[i];
    case DT_I32: return ((const int*)p)[i];
    case DT_I64: return (double)((const long long*)p)[i];
    default: return ((const unsigned char*)p)[i];
  }
}

__device__ __forceinline__ float ld(const void* p, int t, long long i) {
  switch (t) {
    case DT_F32: return ((const float*)p)[i];
    case DT_BF16: return __bfloat162float(((const __nv_bfloat16*)p)[i]);
    case DT_F16: return __half2float(((const __half*)p)[i]);
    default: return (float)ldd(p, t, i);
  }
}

// Narrow floats round from float (the CPU reference rounds double -> float -> bf16/f16, nearest even).
__device__ __forceinline__ void std_(void* p, int t, long long i, double v) {
  switch (t) {
    case DT_F32: ((float*)p)[i] = (float)v; break;
    case DT_BF16: ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn((float)v); break;
    case DT_F16: ((__half*)p)[i] = __float2half_rn((float)v); break;
    case DT_F64: ((double*)p)[i] = v; break;
    case DT_I32: ((int*)p)[i] = (int)v; break;
    case DT_I64: ((long long*)p)[i] = (long long)v; break;
    default: ((unsigned char*)p)[i] = (unsigned char)(int)v;
  }
}

__device__ __forceinline__ void st(void* p, int t, long long i, float v) {
  switch (t) {
    case DT_F32: ((float*)p)[i] = v; break;
    case DT_BF16: ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn(v); break;
    case DT_F16: ((__half*)p)[i] = __float2half_rn(v); break;
    default: std_(p, t, i, v);
  }
}

// n / d for 0 <= n < 2^31 as a multiply-high, an add and a shift (Granlund and Montgomery, "Division by invariant
// integers using multiplication", 1994): with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1, n / d =
// (umulhi(n, m) + n) >> s. fast_divisor packs m | s << 32 (Java: CudaGemm.fastDivisor). For a divisor known only at
// run time and used per element: a division instruction sequence is ~20 SASS instructions (32-bit) to ~70 (64-bit),
// e.g. ~200 per 16-byte chunk of an im2col gather, more issue slots than the tile's mma.sync work (docs/CUDA.md).
__host__ __device__ inline long long fast_divisor(long long d) {
  int s = 0;
  while ((1ll << s) < d) s++;
  const unsigned long long m = (1ull << 32) * ((1ull << s) - (unsigned long long)d) / (unsigned long long)d + 1;
  return (long long)(m | (unsigned long long)s << 32);
}

__host__ __device__ inline int fast_div(int n, long long f) {
  const unsigned m = (unsigned)f, s = (unsigned)(f >> 32);
#ifdef __CUDA_ARCH__
  const unsigned hi = __umulhi((unsigned)n, m);
#else
  const unsigned hi = (unsigned)((unsigned long long)(unsigned)n * m >> 32);
#endif
  return (int)((hi + (unsigned)n) >> s);
}

// Up to three operands walked over one logical shape with their own element strides (0 = broadcast).
// Passed by value; built by CudaBackend.layout (dims coalesced first, so rank is usually 1-3). div[d] is
// fast_divisor(size[d]) when the layout has under 2^31 elements (every index fits an int), else all 0.
#define MAXR 8
struct Layout {
  long long rank;
  long long size[MAXR];
  long long st[3][MAXR];
  long long div[MAXR];
};

__device__ __forceinline__ void offsets(const Layout& L, long long i, long long& o0, long long& o1, long long& o2) {
  if ((int)L.rank <= 1) {  // a contiguous view (the common case) or one strided dim; rank 0 (a scalar) has i = 0
    o0 = i * L.st[0][0];
    o1 = i * L.st[1][0];
    o2 = i * L.st[2][0];
    return;
  }
  // The inner dims' indices, innermost first; what is left of i (< n) is dim 0's, without a division.
  o0 = o1 = o2 = 0;
  if (L.div[0]) {
    // A 64-bit i % s and i / s is a call or ~45 instructions a dim; fast_div is a multiply-high, an add, a shift.
    unsigned j = (unsigned)i;  // unsigned: c * st without sign extension
#pragma unroll 1
    for (int d = (int)L.rank - 1; d > 0; --d) {
      const unsigned q = (unsigned)fast_div((int)j, L.div[d]), c = j - q * (unsigned)L.size[d];
      j = q;
      o0 += c * L.st[0][d];
      o1 += c * L.st[1][d];
      o2 += c * L.st[2][d];
    }
    i = j;
  } else {
#pragma unroll 1
    for (int d = (int)L.rank - 1; d > 0; --d) {
      long long s = L.size[d], c = i % s;
      i /= s;
      o0 += c * L.st[0][d];
      o1 += c * L.st[1][d];
      o2 += c * L.st[2][d];
    }
  }
  o0 += i * L.st[0][0];
  o1 += i * L.st[1][0];
  o2 += i * L.st[2][0];
}

#define GRID_STRIDE(i, n) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide sum (blockDim.x a multiple of 32, at most 1024); every thread gets the total. Uses 32 slots of
// shared scratch and ends with a barrier so the scratch can be reused by the next call.
template <typename A>
__device__ __forceinline__ A block_sum(A v, A* scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  A t = lane < nw ? scratch[lane] : (A)0;
  t = warp_sum(t);
  __syncthreads();
  return t;
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }
__device__ __forceinline__ float geluf_(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float gelu_grad(float x) {
  return 0.5f * (1.f + erff(x * 0.70710678118654752f)) + x * expf(-0.5f * x * x) * 0.39894228040143268f;
}
