// What the two tensor-core GEMM kernels share (gemm_mma.cu: mma.sync, sm_80+; gemm_wgmma.cu: wgmma, sm_90a): the
// operand description (dense or an im2col gather) and the cp.async tile copy into swizzled shared memory. The index
// functions are __host__ too, for kernels/check/*_host_check.cu.
#pragma once
#include "epilogue.cuh"
#include "mma.cuh"

namespace mma {

// 16-byte chunks per row of an MN x BK operand tile: K-major rows hold the k step, MN-major rows the MN extent.
template <bool KMAJOR, int MN, int BK>
__host__ __device__ constexpr int chunks_per_row() { return KMAJOR ? BK / 8 : MN / 8; }

// Chunk i (of MN * BK / 8) of a tile copy: its tile row r (K-major: M/N index; MN-major: K index), its logical
// chunk c along the contiguous index, and its shared-memory slot. With 8 chunks per row (a 64-wide K-major k step)
// slot() is exactly the hardware's 128-byte swizzle, the layout wgmma reads. ATOMS (gemm_wgmma.cu's MN-major tiles):
// wgmma's MN-major layout instead, atoms of 8 K rows x 64 MN elements (128 bytes, the same swizzle), the atoms of one
// 64-wide MN strip consecutive along K (1024 bytes apart), the strips BK * 128 bytes apart.
template <bool KMAJOR, int MN, int BK, bool ATOMS = false>
__host__ __device__ inline int tile_chunk(int i, int& r, int& c) {
  constexpr int W = chunks_per_row<KMAJOR, MN, BK>();
  r = i / W;
  c = i % W;
  if constexpr (ATOMS && !KMAJOR) return c / 8 * (BK * 8) + r * 8 + (c % 8 ^ r % 8);
  else return slot<W>(r, c);
}

// The parameters every tensor-core GEMM entry point takes (gemm_mma.cu, gemm_wgmma.cu; CudaGemm.launchMma passes
// them): sizes, alpha, A and B with their Operand structs, beta, C (dtype, row / column / batch strides), bias
// (dtype), the residual (dtype, strides) and GEGLU's half width (0 for none).
#define GEMM_PARAMS                                                                                                 \
  int m, int n, int k, float alpha, const void *A, mma::Operand oa, const void *B, mma::Operand ob, float beta,     \
      void *C, int tc, long long crs, long long ccs, long long sbc, const void *bias, int tbias, const void *R,     \
      int tr, long long rrs, long long rcs, long long rbs, int half
// GEMM_PARAMS' epilogue arguments as the Out the shared epilogue (store_tile) takes.
#define GEMM_OUT mma::Out{m, n, alpha, beta, C, tc, crs, ccs, sbc, bias, tbias, Residual{R, tr, rrs, rcs, rbs}, half}

// One operand in memory terms: element (row, col) at row * ld + col (+ batch * bs) when dense; an im2col gather of
// x (N, H, W, Cin) when gather != 0. rows x cols bounds the zero fill. dh, dw (a gather's, > 1 only for a strided
// convolution's input gradient): x is read dilated, dh - 1 rows and dw - 1 columns of zeros between its pixels, so
// that gradient is a stride-1 convolution of the output gradient. All long long so Java passes it as a long[].
struct Operand {
  long long ld, bs, rows, cols, gather, h, w, cin, kw, ho, wo, sh, sw, pt, pl, dh, dw;
};

// The element offset of (row, col), or false where the operand is zero (past its edges, or in a conv's padding).
// For a gather, 8 consecutive columns share one tap because Cin % 8 == 0.
__host__ __device__ inline bool locate(const Operand& o, int row, int col, long long& off) {
  if (row >= o.rows || col >= o.cols) return false;
  if (!o.gather) { off = (long long)row * o.ld + col; return true; }
  int cin = (int)o.cin, kw = (int)o.kw, wo = (int)o.wo, ho = (int)o.ho;
  int ci = col % cin, tap = col / cin, kx = tap % kw, ky = tap / kw;
  int ox = row % wo, t = row / wo, oy = t % ho, b = t / ho;
  int iy = oy * (int)o.sh - (int)o.pt + ky, ix = ox * (int)o.sw - (int)o.pl + kx;
  if (o.dh > 1 || o.dw > 1) {   // a position between x's pixels reads zero (a negative one fails the bounds below)
    if (iy % (int)o.dh || ix % (int)o.dw) return false;
    iy /= (int)o.dh;
    ix /= (int)o.dw;
  }
  if (iy < 0 || iy >= o.h || ix < 0 || ix >= o.w) return false;
  off = (((long long)b * o.h + iy) * o.w + ix) * cin + ci;
  return true;
}

// The memory (row, col) of tile chunk (r, c) for the tile at (mn0, k0): K-major rows run along M (or N) and
// chunks along K; MN-major rows run along K and chunks along M (or N). A GEGLU product's B (half = D, else 0) reads
// its N index through geglu_source; past the product's 2D columns the index stays, so the edge zero fill holds.
template <bool KMAJOR>
__host__ __device__ inline void tile_coords(int r, int c, int mn0, int k0, int half, int& row, int& col) {
  int mn = mn0 + (KMAJOR ? r : c * 8);
  if (half && mn < 2 * half) mn = geglu_source(mn, half);
  row = KMAJOR ? mn : k0 + r;
  col = KMAJOR ? k0 + c * 8 : mn;
}

// Copies the MN x BK operand tile at (mn0, k0) into shared memory; g is the operand's batch start. Whole 16-byte
// chunks per thread, zero-filled past the edges. UNROLL: the copies unrolled (UNROLL) or issued from a loop (a
// copy-only warp with few registers: unrolled, the addresses of all its copies are live at once).
template <bool KMAJOR, int MN, int BK, int THREADS, bool ATOMS = false, int UNROLL = MN * BK / 8 / THREADS>
__device__ __forceinline__ void load_tile(uint4* s, const uint16_t* g, const Operand& o, int mn0, int k0, int half) {
  static_assert(MN * BK / 8 % THREADS == 0, "whole chunks per thread");
#pragma unroll UNROLL
  for (int it = 0; it < MN * BK / 8 / THREADS; it++) {
    int r, c, dst = tile_chunk<KMAJOR, MN, BK, ATOMS>(threadIdx.x + it * THREADS, r, c), row, col;
    tile_coords<KMAJOR>(r, c, mn0, k0, half, row, col);
    long long off = 0;
    bool valid = locate(o, row, col, off);
    cp_async16(s + dst, g + off, valid);
  }
}

// ---- the epilogue both kernels share: C staged as an fp32 tile in shared memory, then finished row by row ----
// Consecutive threads write consecutive columns of C. The accumulator fragments would scatter 4- to 8-byte pieces;
// indexing 64-128 accumulators from an epilogue loop the compiler does not unroll moves them all to local memory;
// and an epilogue unrolled per accumulator repeats its C-dtype and residual-dtype branches per element (that made
// gemm_mma.cu's entry points ~90 000 instructions each, mostly epilogue).

// Row stride of the staged C tile, in floats: BN + 8 puts the 8 rows of a warp's 8-byte fragment stores in
// different banks.
template <int BN>
__host__ __device__ constexpr int staged_ld() { return BN + 8; }

// The staged column of GEGLU output i of a tile (0 .. BN/2 - 1): values sit in columns 16q .. 16q + 7 (q = i / 8),
// their gates 8 further (geglu_source's interleave).
__host__ __device__ inline int geglu_staged_column(int i) { return i / 8 * 16 + i % 8; }

// Where a C element goes and what is added to it: everything of the epilogue but the accumulator.
struct Out {
  int m, n;
  float alpha, beta;
  void* C;
  int tc;
  long long crs, ccs, sbc;
  const void* bias;
  int tbias;
  Residual res;
  int half;  // GEGLU: D (the product has 2D columns, C has D), else 0
};

__device__ __forceinline__ float column_bias(const Out& o, int col) {
  return o.bias && col < o.n ? ld(o.bias, o.tbias, o.half ? geglu_source(col, o.half) : col) : 0.f;
}

// Finishes ROWS staged fp32 rows, C's rows bm.. and columns bn.. of batch entry b, through the epilogue
// (epilogue.cuh); threads tid = 0 .. NT - 1 share the work.
template <int ROWS, int BN, int NT>
__device__ __forceinline__ void store_tile(const float* staged, const Out& o, long long b, int bm, int bn, int tid) {
  constexpr int LD = staged_ld<BN>();
  if (o.half) {  // GEGLU: output i of a row pairs staged column p (value) with p + 8 (gate)
    for (int idx = tid; idx < ROWS * BN / 2; idx += NT) {
      int r = idx / (BN / 2), p = geglu_staged_column(idx % (BN / 2)), row = bm + r, col = bn + p;
      if (row < o.m && col < o.n)
        st(o.C, o.tc, b * o.sbc + row * o.crs + geglu_source(col, o.half) * o.ccs,
           geglu_epilogue(staged[r * LD + p], staged[r * LD + p + 8], o.alpha, column_bias(o, col), column_bias(o, col + 8)));
    }
    return;
  }
  with_residual_type(o.res, [&](auto rt) {
    for (int idx = tid; idx < ROWS * BN; idx += NT) {
      int r = idx / BN, c = idx % BN, row = bm + r, col = bn + c;
      if (row < o.m && col < o.n) {
        long long ci = b * o.sbc + row * o.crs + col * o.ccs;
        st(o.C, o.tc, ci, epilogue<decltype(rt)::value>(staged[r * LD + c], o.alpha, column_bias(o, col), o.res, b, row, col,
                                                        o.beta, o.C, o.tc, ci));
      }
    }
  });
}

}  // namespace mma
