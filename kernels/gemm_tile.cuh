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

// One operand in memory terms: element (row, col) at row * ld + col (+ batch * bs) when dense; an im2col gather of
// x (N, H, W, Cin) when gather != 0. rows x cols bounds the zero fill. All long long so Java passes it as a long[].
struct Operand {
  long long ld, bs, rows, cols, gather, h, w, cin, kw, ho, wo, sh, sw, pt, pl;
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

}  // namespace mma
