// Tensor-core building blocks shared by the mma.sync kernels (gemm_mma.cu, attention_mma.cu): cp.async copies,
// ldmatrix, mma.sync m16n8k16 and the shared-memory layout they agree on, with the tile copies' layout (tile_chunk,
// TileCopies) that gemm_wgmma.cu uses too. The index functions are __host__ too:
// kernels/check/*_host_check.cu run them on the CPU against emulations of ldmatrix and mma.sync built from the
// fragment layouts in the PTX manual, since a wrong lane mapping is the likely bug in such code.
#pragma once
#include <stdint.h>

namespace mma {

// Shared tiles are rows of 16-byte chunks (8 halves). Chunk c of row r lives at slot(r, c), XOR-swizzled so that the
// 8 consecutive rows an ldmatrix phase reads at one logical chunk land in 8 different 16-byte bank groups: with 4
// chunks per row (CPR) two rows share a 128-byte line and the swizzle uses r / 2; with 8 or more it uses r.
template <int CPR>
__host__ __device__ inline int slot(int r, int c) {
  if constexpr (CPR >= 8) return r * CPR + (c ^ (r & 7));
  else return r * CPR + (c ^ ((r >> 1) & 3));
}

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

// Thread tid's copies of an MN x BK tile copied by THREADS threads: copy `it` is chunk tid + it * THREADS (tile_chunk),
// so every copy sits in copy 0's column chunk c, ROWS tile rows below the previous one. Every layout's swizzle repeats
// every 8 rows, so copies P apart (8 rows or more) differ in slot by the constant STEP: a copy's row and slot are an
// add from copy 0's (and copy 1's where P = 2), no division per copy. Found per copy from its chunk index, ptxas
// recomputed the slots every k step where registers ran short (gemm_mma's 128x64 tile on sm_90a: ~40 instructions).
template <bool KMAJOR, int MN, int BK, int THREADS, bool ATOMS = false>
struct TileCopies {
  static constexpr int W = chunks_per_row<KMAJOR, MN, BK>(), ROWS = THREADS / W, COPIES = MN * BK / 8 / THREADS;
  static constexpr int P = ROWS % 8 == 0 ? 1 : 2, STEP = (ATOMS && !KMAJOR ? 8 : W) * ROWS * P;
  static_assert(MN * BK / 8 % THREADS == 0 && THREADS % W == 0, "whole chunks per thread, each thread in one column chunk");
  static_assert(ROWS % 8 == 0 || (ROWS == 4 && COPIES % 2 == 0), "copies 8 rows apart every P = 1 or 2 copies");
  int r0, c, slot0, slot1;

  __host__ __device__ explicit TileCopies(int tid) {
    int r1, c1;
    slot0 = tile_chunk<KMAJOR, MN, BK, ATOMS>(tid, r0, c);
    slot1 = P == 2 ? tile_chunk<KMAJOR, MN, BK, ATOMS>(tid + THREADS, r1, c1) : 0;
  }
  __host__ __device__ int row(int it) const { return r0 + it * ROWS; }
  __host__ __device__ int slot(int it) const { return (P == 2 && it % 2 ? slot1 : slot0) + it / P * STEP; }
};

// The slot whose 16 bytes `lane` addresses in ldmatrix.x4 for A's 16 x 16 fragment at (m0, kk) of a tile with CPR
// chunks per row: matrices 0..3 are (rows +0, k +0), (rows +8, k +0), (rows +0, k +8), (rows +8, k +8), i.e.
// mma's a0..a3. K-major tiles have rows along M; MN-major ones have rows along K and are read with .trans.
template <bool KMAJOR, int CPR>
__host__ __device__ inline int a_frag_slot(int lane, int m0, int kk) {
  int j = lane / 8;
  if constexpr (KMAJOR) return slot<CPR>(m0 + lane % 16, kk / 8 + lane / 16);
  else return slot<CPR>(kk + lane % 8 + (j >> 1) * 8, m0 / 8 + (j & 1));
}

// Same for two n8 B fragments at (n0, kk): matrices (n +0, k +0), (n +0, k +8), (n +8, k +0), (n +8, k +8), i.e.
// b0, b1 of columns n0.. and b0, b1 of columns n0 + 8...
template <bool KMAJOR, int CPR>
__host__ __device__ inline int b_frag_slot(int lane, int n0, int kk) {
  int j = lane / 8;
  if constexpr (KMAJOR) return slot<CPR>(n0 + lane % 8 + (j >> 1) * 8, kk / 8 + (j & 1));
  else return slot<CPR>(kk + lane % 8 + (j & 1) * 8, n0 / 8 + (j >> 1));
}

// Where accumulator e (0..3) of a lane's m16n8 tile sits: rows +0 / +8, columns 2 * (lane % 4) + (e % 2).
__host__ __device__ inline int acc_row(int lane, int e) { return lane / 4 + (e / 2) * 8; }
__host__ __device__ inline int acc_col(int lane, int e) { return (lane % 4) * 2 + e % 2; }

#ifndef PUPPET_SIMT_EMULATOR  // kernels/check/emu/simt.h defines these five on the CPU
__device__ __forceinline__ void cp_async16(uint4* dst, const void* src, bool valid) {
  unsigned s = (unsigned)__cvta_generic_to_shared(dst);
  // ignore-src (a predicate; PTX 7.5): zero-fill instead of reading. The src-size form (a register, 16 or 0) cost
  // ~4 extra instructions per copy: ptxas folds the size into the address and a second predicate.
  asm volatile("{\n.reg .pred p;\nsetp.eq.u32 p, %2, 0;\ncp.async.cg.shared.global [%0], [%1], 16, p;\n}\n" ::"r"(s), "l"(src),
               "r"((unsigned)valid));
}
// p, as a value ptxas must take as it is (an empty asm that may change it): see load_tile.
template <class T>
__device__ __forceinline__ const T* opaque(const T* p) {
  asm("" : "+l"(p));
  return p;
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <bool TRANS>
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const uint4* p) {
  unsigned s = (unsigned)__cvta_generic_to_shared(p);
  if constexpr (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
}

template <bool BF16>
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  if constexpr (BF16)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif

}  // namespace mma
