// Tensor-core building blocks shared by the mma.sync kernels (gemm_mma.cu, attention_mma.cu): cp.async copies,
// ldmatrix, mma.sync m16n8k16 and the shared-memory layout they agree on. The index functions are __host__ too:
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
