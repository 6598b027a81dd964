// Tensor-core GEMM for sm_80 and newer: C = alpha * A B + beta * C (+ bias per column, + a residual, or the GEGLU
// gate: epilogue.cuh) per batch, bf16 or f16 operands, fp32 accumulation (mma.sync m16n8k16), C in any dtype and any
// strides.
//
// Block tiles of WM x WN warps, each warp owning 64x32 of C (128x128 with 8 warps, 128x64, 64x128: CudaGemm
// picks per problem, autotuned or by a wave heuristic), k step 32, a 3-stage cp.async pipeline (16-byte copies,
// zero-filled past the edges), shared memory XOR-swizzled so every ldmatrix phase touches 8 distinct 16-byte bank
// groups.
// Each operand is either K-major (its K index contiguous: A as (M, K) rows, B as (N, K) rows, i.e. B^T stored) or
// MN-major (its M or N index contiguous); ldmatrix.trans turns the latter into the same fragments, so the forward
// product and both backward products run without a transposed copy. Four entry points per dtype, one per layout
// pair, all from the one template below.
//
// An operand is dense (row stride ld) or an im2col gather of a channels-last image: row = output pixel, column =
// (ky, kx, ci). Convolution is then an implicit GEMM: the forward product gathers A, the weight gradient gathers
// B, and the column matrix (kh*kw times the activation) never exists in device memory.
//
// Epilogue: each 64-row band of the block's accumulators is staged as fp32 in the (then idle) stage memory and
// finished by gemm_tile.cuh's store_tile, the walk gemm_wgmma.cu uses too: a loop, not 64 unrolled stores each with
// its C-dtype and residual-dtype branches (that was ~90 000 instructions per entry point and ~16 s of ptxas each).
//
// CudaGemm sends a product here only when: both operands bf16 (or both f16), the contiguous extent and the other
// row stride and the batch stride are multiples of 8 elements (for a gather: Cin), and both base addresses are
// 16-byte aligned, so every 16-byte copy is whole, aligned and inside one tap.
#include "common.cuh"
#include "gemm_tile.cuh"

namespace mma {

constexpr int BK = 32, STAGES = 3, WARP_M = 64, WARP_N = 32;

// A block tile of WM x WN warps. Smaller tiles put more blocks on the SMs when M or N is small (the UNet's
// low-resolution levels: 448 rows of 1280 channels fill 40 blocks of 128x128 on a 132-SM GPU, 80 of 128x64).
template <int WM, int WN>
struct Tile {
  static constexpr int BM = WARP_M * WM, BN = WARP_N * WN, THREADS = 32 * WM * WN;
  // the stages: A's tiles, then B's; after the main loop the same memory stages C, 64 rows (one warp row) at a time
  static constexpr int A_CHUNKS = BM * BK / 8, B_CHUNKS = BN * BK / 8, POOL = STAGES * (A_CHUNKS + B_CHUNKS);
  static_assert(WARP_M * staged_ld<BN>() * 4 <= POOL * 16, "64 staged rows of C fit in the stages' memory");
};

// f(std::integral_constant<int, I>) for I = 0 .. N - 1, in order.
template <int N, int I = 0, class F>
__device__ __forceinline__ void unrolled(F&& f) {
  if constexpr (I < N) {
    f(std::integral_constant<int, I>{});
    unrolled<N, I + 1>(f);
  }
}

// Where a lane stages accumulator acc[i][q][e] of a warp whose 64 x 32 piece starts at column wn: row i * 16 +
// acc_row of the staged 64-row band, column wn + q * 8 + acc_col (the m16n8 C fragment of 16-row block i, 8-column
// block q). Elements e and e + 1 are adjacent: one 8-byte store.
template <int BN>
__host__ __device__ inline int staged_at(int lane, int wn, int i, int q, int e) {
  return (i * 16 + acc_row(lane, e)) * staged_ld<BN>() + wn + q * 8 + acc_col(lane, e);
}

// The block's tile of C = A B (k deep) through o's epilogue (o.m x o.n bounds the stores; the operands' rows / cols
// bound the zero-filled copies).
template <bool BF16, bool A_KMAJOR, bool B_KMAJOR, int WM, int WN>
__device__ __forceinline__ void gemm(int k, const uint16_t* A, const Operand& oa, const uint16_t* B, const Operand& ob,
                                     const Out& o) {
  using T = Tile<WM, WN>;
  constexpr int BM = T::BM, BN = T::BN, THREADS = T::THREADS;
  constexpr int ACPR = chunks_per_row<A_KMAJOR, BM, BK>(), BCPR = chunks_per_row<B_KMAJOR, BN, BK>();
  __shared__ uint4 pool[T::POOL];
  uint4* const sa = pool;                            // stage s of A at sa + s * A_CHUNKS
  uint4* const sb = pool + STAGES * T::A_CHUNKS;     // stage s of B at sb + s * B_CHUNKS
  const int half = o.half;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int wm = (warp / WN) * WARP_M, wn = (warp % WN) * WARP_N;  // this warp's 64 x 32 piece of the block tile
  const int bm = blockIdx.x * BM, bn = blockIdx.y * BN;  // M on grid x: more than y's 65535 tiles of rows happen
  const int ktiles = (k + BK - 1) / BK;

  const long long b = blockIdx.z;  // CudaGemm launches one grid layer per batch entry (batch <= 65535)
  const uint16_t* a = A + b * oa.bs;
  const uint16_t* bb = B + b * ob.bs;
  float acc[4][4][4] = {};

  // The prologue and the k loop, with how A's and B's copies find their memory (gemm_tile.cuh: with_copy_kinds).
  auto main_loop = [&](const auto& how_a, const auto& how_b) {
    auto load = [&](int s, int kt) {  // k tile kt into stage s
      load_tile<A_KMAJOR, BM, BK, THREADS>(sa + s * T::A_CHUNKS, a, oa, bm, kt * BK, 0, how_a);
      load_tile<B_KMAJOR, BN, BK, THREADS>(sb + s * T::B_CHUNKS, bb, ob, bn, kt * BK, half, how_b);
    };
    for (int s = 0; s < STAGES - 1; s++) {
      if (s < ktiles) load(s, s);
      cp_async_commit();
    }
    // k tile kt, from stage S: a compile-time constant (the loop below is unrolled by STAGES), so every shared
    // address in the step is a loop-invariant register plus an immediate; kt % STAGES cost ~25 instructions a step.
    auto k_step = [&](int kt, auto stage) {
      constexpr int S = decltype(stage)::value;
      cp_async_wait<STAGES - 2>();  // tile kt has landed (for this thread) ...
      __syncthreads();              // ... for every thread, and everyone is done with tile kt - 1's stage
      if (kt + STAGES - 1 < ktiles) load((S + STAGES - 1) % STAGES, kt + STAGES - 1);
      cp_async_commit();  // an empty group near the end keeps the wait count uniform
      const uint4* ta = sa + S * T::A_CHUNKS;
      const uint4* tb = sb + S * T::B_CHUNKS;
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16) {
        unsigned af[4][4], bf[4][2];
#pragma unroll
        for (int i = 0; i < 4; i++) ldmatrix_x4<!A_KMAJOR>(af[i], ta + a_frag_slot<A_KMAJOR, ACPR>(lane, wm + i * 16, kk));
#pragma unroll
        for (int p = 0; p < 2; p++) {  // two n8 fragments per ldmatrix.x4
          unsigned r[4];
          ldmatrix_x4<!B_KMAJOR>(r, tb + b_frag_slot<B_KMAJOR, BCPR>(lane, wn + p * 16, kk));
          bf[2 * p][0] = r[0]; bf[2 * p][1] = r[1];
          bf[2 * p + 1][0] = r[2]; bf[2 * p + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int q = 0; q < 4; q++) mma16816<BF16>(acc[i][q], af[i], bf[q][0], bf[q][1]);
      }
    };
    for (int kt = 0; kt < ktiles; kt += STAGES)
      unrolled<STAGES>([&](auto s) {
        if (kt + decltype(s)::value < ktiles) k_step(kt + decltype(s)::value, s);
      });
  };
  with_copy_kinds<A_KMAJOR, B_KMAJOR, BM, BN, BK, THREADS>(oa, ob, bm, bn, half, threadIdx.x, main_loop);
  cp_async_wait<0>();  // only empty groups can be pending here; leave none behind at exit
  __syncthreads();     // every warp is done with the stages: they stage C now, one warp row (64 rows) at a time
  float* const staged = reinterpret_cast<float*>(pool);
#pragma unroll
  for (int band = 0; band < WM; band++) {
    if (warp / WN == band) {
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int q = 0; q < 4; q++)
#pragma unroll
          for (int e = 0; e < 4; e += 2)
            *reinterpret_cast<float2*>(staged + staged_at<BN>(lane, wn, i, q, e)) = make_float2(acc[i][q][e], acc[i][q][e + 1]);
    }
    __syncthreads();
    store_tile<WARP_M, BN, THREADS>(staged, o, b, bm + band * WARP_M, bn, threadIdx.x);
    if (band + 1 < WM) __syncthreads();  // the band is read before the next one overwrites it
  }
}

}  // namespace mma

#ifndef GEMM_MMA_INDEX_ONLY  // kernels/check/gemm_mma_host_check.cu includes this file for its index functions only
// Entry points: gemm_mma_<dtype>_<A layout><B layout>_<BM>x<BN>, k = K-major, m/n = MN-major. half = D for a GEGLU
// product (n = 2D), else 0; R == nullptr for no residual (separate arguments: JCuda cannot put a pointer in a
// struct). Launch bounds: 512 threads' worth of blocks per SM, i.e. at most 128 registers for every tile.
#define GEMM_MMA_ENTRY(NAME, BF16, AK, BKM, WM, WN)                                                                 \
  extern "C" __global__ void __launch_bounds__(mma::Tile<WM, WN>::THREADS, 512 / mma::Tile<WM, WN>::THREADS)          \
      NAME(GEMM_PARAMS) {                                                                                            \
    mma::gemm<BF16, AK, BKM, WM, WN>(k, (const uint16_t*)A, oa, (const uint16_t*)B, ob, GEMM_OUT);                  \
  }
// Three tiles: 64x64 would fill the SMs best on the smallest problems but spilled (4-36 bytes) with its four chunk
// copies per thread.
#define GEMM_MMA_TILES(NAME, BF16, AK, BKM)          \
  GEMM_MMA_ENTRY(NAME##_128x128, BF16, AK, BKM, 2, 4) \
  GEMM_MMA_ENTRY(NAME##_128x64, BF16, AK, BKM, 2, 2)  \
  GEMM_MMA_ENTRY(NAME##_64x128, BF16, AK, BKM, 1, 4)
GEMM_MMA_TILES(gemm_mma_bf16_kk, true, true, true)
GEMM_MMA_TILES(gemm_mma_bf16_kn, true, true, false)
GEMM_MMA_TILES(gemm_mma_bf16_mk, true, false, true)
GEMM_MMA_TILES(gemm_mma_bf16_mn, true, false, false)
GEMM_MMA_TILES(gemm_mma_f16_kk, false, true, true)
GEMM_MMA_TILES(gemm_mma_f16_kn, false, true, false)
GEMM_MMA_TILES(gemm_mma_f16_mk, false, false, true)
GEMM_MMA_TILES(gemm_mma_f16_mn, false, false, false)
#endif
