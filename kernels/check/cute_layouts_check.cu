// A second reading of the tensor-core layouts, not ours: the kernels' fragment and shared-memory layouts, and the two
// headers the host checks and the SIMT emulator read them through (mma_emulation.h, hopper_emulation.h), compared with
// CUTLASS's CuTe, whose sm80 and sm90 code runs on the hardware every day. Those headers are our one statement of the
// PTX manual's layouts; an error in one would be shared by the kernel's host check and the emulator (common mode).
// mma.sync / ldmatrix (gemm_mma.cu, attention_mma.cu; mma_emulation.h):
//   1. mma_a_at / mma_b_at / mma_d_at equal CuTe's SM80 16x8x16 ALayout / BLayout / CLayout, (lane, register half)
//      -> (row, column), register r's half h being CuTe's value 2r + h;
//   2. ldmatrix.x4 (with and without .trans): which lane gives which row (ldmatrix()'s convention) and which element
//      each lane receives (ldmatrix_source) equal CuTe's SM75_U32x4_LDSM_N / SM75_U16x8_LDSM_T bit maps.
// wgmma (gemm_wgmma.cu; hopper_emulation.h), for every operand tile the kernel builds (A and B, K-major and
// MN-major, BN 128 and 256, each warpgroup's rows, each 16-wide k slice):
//   3. the tile copy's layout (gemm_tile.cuh: tile_chunk, as cp.async writes it; gemm_wgmma.cu: tma_box, as TMA
//      writes it with the 128-byte swizzle) puts every element where CuTe's canonical 128-byte-swizzled GMMA layout
//      (Layout_K_SW128_Atom / Layout_MN_SW128_Atom, tiled over the stage) has it; if it is not canonical, CuTe's
//      static checks fail at compile time;
//   4. the kernel's descriptor (a_descriptor / b_descriptor, slice) equals the one CuTe's make_gmma_desc builds for
//      that slice of that tile, bit for bit;
//   5. wgmma_operand_byte, reading that descriptor, finds each element where CuTe's tensor has it;
//   6. wgmma_d_at's accumulator owners equal CuTe's CLayout_64xN (thread, value) -> (m, n), for N = 128 and 256;
//   7. the transpose immediates: CuTe's SM90 GMMA ops pass int(Major) as imm-trans-a / -b, the kernel !KMAJOR (a
//      compile-time check of the convention; the instruction strings themselves were compared by reading).
// Not a GPU run: it moves the trust from our reading of the manual to CuTe's. It needs a CUTLASS checkout (headers
// only), so CI does not run it (host-checks.sh does when CUTLASS is set):
//   nvcc -std=c++17 -I$CUTLASS/include -o /tmp/cutec kernels/check/cute_layouts_check.cu && /tmp/cutec
#define GEMM_WGMMA_INDEX_ONLY
#include "../gemm_wgmma.cu"
#include "hopper_emulation.h"
#include "mma_emulation.h"

#include <stdio.h>
#include <stdlib.h>

// This runs on the host, where CuTe cannot turn a pointer into a shared address (make_gmma_desc needs one): a host
// buffer stands for the block's shared memory, at shared address SHARED (1024-aligned, as the kernel aligns its ring;
// the swizzle depends only on the low 10 bits, which the buffer's own 1024-byte alignment keeps).
// (nvcc's device pass, which compiles CuTe's helpers but runs none of this, keeps the real conversion.)
static unsigned char* host_base;
static constexpr unsigned SHARED = 0x8000;
static size_t host_cvta(const void* p) { return SHARED + (size_t)((const unsigned char*)p - host_base); }
#ifndef __CUDA_ARCH__
#define __cvta_generic_to_shared(p) host_cvta(p)
#define CUTE_CVTA_GENERIC_TO_SHARED_ACTIVATED 1
#endif
#include <cute/atom/copy_traits_sm75.hpp>
#include <cute/atom/mma_traits_sm80.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

using namespace cute;
namespace G = cute::SM90::GMMA;
static_assert(int(G::Major::MN) == 1 && int(G::Major::K) == 0, "an MN-major operand is read transposed (imm-trans 1), as the kernel's !KMAJOR");

static long failures, checks;
static void expect(bool ok, const char* what, long a, long b, const char* ctx) {
  checks++;
  if (ok) return;
  if (failures++ < 20) printf("  MISMATCH %s: ours %ld (0x%lx), CuTe %ld (0x%lx) [%s]\n", what, a, a, b, b, ctx);
}

// Where our copy puts element (mn, k) of an MN x 64 operand tile: byte offset within the tile. cp.async: tile_chunk's
// slot for the chunk holding it; TMA: tma_box's box and hopper_emulation.h's tma_box_byte (relative to a 1024-aligned
// tile, so the absolute swizzle is the relative one).
template <bool KMAJOR, int MN>
static unsigned copy_byte(int mn, int k) {
  const int r = KMAJOR ? mn : k, c = (KMAJOR ? k : mn) / 8, within = (KMAJOR ? k : mn) % 8;
  constexpr int W = mma::chunks_per_row<KMAJOR, MN, wg::BK>();
  int rr, cc;
  const int slot = mma::tile_chunk<KMAJOR, MN, wg::BK, true>(r * W + c, rr, cc);
  return (unsigned)(slot * 16 + within * 2);
}
template <bool KMAJOR, int MN>
static unsigned tma_byte(int mn, int k) {
  const int i = KMAJOR ? 0 : mn / 64;
  int c0, c1;
  const unsigned dst = (unsigned)wg::tma_box<KMAJOR>(i, 0, 0, c0, c1);
  const int box[2] = {KMAJOR ? wg::BK : 64, KMAJOR ? MN : wg::BK};
  const int x[2] = {KMAJOR ? k : mn % 64, KMAJOR ? mn : k};
  return tma_box_byte(dst, box, 2, x, 2);
}

// One operand tile of MN rows (A: 128; B: BN) at byte `at` of the 1024-aligned stage: CuTe's canonical layout for it,
// as our copies fill it (K-major: 8-row atoms stacked along MN; MN-major: each 64-wide strip's 8-K-row atoms
// consecutive along K, then the next strip).
template <bool KMAJOR, int MN>
static auto cute_tile(unsigned at) {
  auto ptr = make_smem_ptr(reinterpret_cast<uint16_t*>(host_base + at));
  if constexpr (KMAJOR) return make_tensor(ptr, tile_to_shape(G::Layout_K_SW128_Atom<uint16_t>{}, Shape<Int<MN>, Int<wg::BK>>{}));
  else return make_tensor(ptr, tile_to_shape(G::Layout_MN_SW128_Atom<uint16_t>{}, Shape<Int<MN>, Int<wg::BK>>{}, Step<_2, _1>{}));
}

// Checks 3-5 for one operand: `rows` rows of the tile per multiply (A: one warpgroup's 64; B: all of it), starting at
// row `first`, with the kernel's descriptor `desc(kk)` for k slice kk.
template <bool KMAJOR, int MN, int ROWS, class Desc>
static void operand(const char* name, unsigned at, int first, Desc desc) {
  char ctx[96];
  auto tile = cute_tile<KMAJOR, MN>(at);
  for (int mn = 0; mn < MN; mn++)
    for (int k = 0; k < wg::BK; k++) {
      const long theirs = (long)((unsigned char*)&tile(mn, k) - host_base) - at;
      snprintf(ctx, sizeof ctx, "%s tile element (%d, %d)", name, mn, k);
      expect(copy_byte<KMAJOR, MN>(mn, k) == theirs, "cp.async copy's byte", copy_byte<KMAJOR, MN>(mn, k), theirs, ctx);
      expect(tma_byte<KMAJOR, MN>(mn, k) == theirs, "TMA box's byte", tma_byte<KMAJOR, MN>(mn, k), theirs, ctx);
    }
  for (int kk = 0; kk < wg::BK / 16; kk++) {
    auto part = local_tile(tile, Shape<Int<ROWS>, _16>{}, make_coord(first / ROWS, kk));
    const uint64_t cute_desc = G::make_gmma_desc<KMAJOR ? G::Major::K : G::Major::MN>(part).desc_, ours = desc(kk);
    // An MN-major slice of 64 rows is one strip: the leading byte offset (strip to strip, bits 16-29) is never
    // applied, and CuTe leaves it 0 where the kernel writes the B tile's value.
    const uint64_t used = !KMAJOR && ROWS == 64 ? ~(uint64_t)(0x3FFF << 16) : ~(uint64_t)0;
    snprintf(ctx, sizeof ctx, "%s rows %d.. k slice %d", name, first, kk);
    expect((ours & used) == (cute_desc & used), "descriptor", (long)ours, (long)cute_desc, ctx);
    for (int r = 0; r < ROWS; r++)
      for (int k = 0; k < 16; k++) {
        const long theirs = (long)host_cvta(&part(r, k)), read = wgmma_operand_byte(ours, KMAJOR, r, k);
        snprintf(ctx, sizeof ctx, "%s rows %d.. k slice %d element (%d, %d)", name, first, kk, r, k);
        expect(read == theirs, "wgmma_operand_byte", read, theirs, ctx);
      }
  }
}

// 1. mma.sync m16n8k16: CuTe's layouts map (lane, value) to m + 16 k (A), n + 8 k (B), m + 16 n (C).
static void mma_fragments() {
  using T = MMA_Traits<SM80_16x8x16_F32BF16BF16F32_TN>;
  const auto A = typename T::ALayout{};
  const auto B = typename T::BLayout{};
  const auto C = typename T::CLayout{};
  char ctx[64];
  for (int t = 0; t < 32; t++) {
    for (int r = 0; r < 4; r++)
      for (int h = 0; h < 2; h++) {
        int row, k, col;
        snprintf(ctx, sizeof ctx, "lane %d register %d half %d", t, r, h);
        mma_a_at(t, r, h, row, k);
        expect(row + 16 * k == A(t, 2 * r + h), "mma A fragment (m + 16 k)", row + 16 * k, A(t, 2 * r + h), ctx);
        if (r >= 2) continue;
        mma_b_at(t, r, h, k, col);
        expect(col + 8 * k == B(t, 2 * r + h), "mma B fragment (n + 8 k)", col + 8 * k, B(t, 2 * r + h), ctx);
      }
    for (int e = 0; e < 4; e++) {
      int row, col;
      mma_d_at(t, e, row, col);
      snprintf(ctx, sizeof ctx, "lane %d accumulator %d", t, e);
      expect(row + 16 * col == C(t, e), "mma D fragment (m + 16 n)", row + 16 * col, C(t, e), ctx);
    }
  }
}

// 2. ldmatrix.x4: CuTe's bit maps over the four 8x8 matrices of 16-bit elements (1024 bits each, rows of 128 bits).
// Source: lane s gives the row at bit Src(s, 0); destination: lane t's register j, half h, is the element at bit
// Dst(t, 32 j + 16 h) (the value index of its lowest bit).
template <class Op>
static void ldmatrix_maps(bool trans) {
  const auto src = typename Copy_Traits<Op>::SrcLayout{};
  const auto dst = typename Copy_Traits<Op>::DstLayout{};
  char ctx[64];
  for (int s = 0; s < 32; s++) {   // ldmatrix(): lane 8j + q gives row q of matrix j
    snprintf(ctx, sizeof ctx, "%s, lane %d's row address", trans ? ".trans" : "no .trans", s);
    expect(s == src(s, 0) / 128, "ldmatrix source row (8 matrix + row)", s, src(s, 0) / 128, ctx);
  }
  for (int t = 0; t < 32; t++)
    for (int j = 0; j < 4; j++)
      for (int h = 0; h < 2; h++) {
        int row, col;
        ldmatrix_source(t, h, trans, row, col);
        const long bit = dst(t, 32 * j + 16 * h), ours = 1024 * j + 128 * row + 16 * col;
        snprintf(ctx, sizeof ctx, "%s, lane %d register %d half %d", trans ? ".trans" : "no .trans", t, j, h);
        expect(ours == bit, "ldmatrix element (bit)", ours, bit, ctx);
      }
}

template <bool AK, bool BKM, int BN>
static void stage() {
  const unsigned stage = 0;   // the stage's offset in the buffer (its shared address is SHARED)
  char name[64];
  for (int g = 0; g < 2; g++) {
    snprintf(name, sizeof name, "A %s-major, warpgroup %d", AK ? "K" : "M", g);
    operand<AK, wg::BM, 64>(name, stage, 64 * g, [&](int kk) { return wg::slice<AK>(wg::a_descriptor<AK>(SHARED + stage, g), kk); });
  }
  snprintf(name, sizeof name, "B %s-major, BN %d", BKM ? "K" : "N", BN);
  operand<BKM, BN, BN>(name, stage + wg::Cfg<BN>::A_BYTES, 0,
                       [&](int kk) { return wg::slice<BKM>(wg::b_descriptor<BKM, BN>(SHARED + stage), kk); });
}

template <int N>
static void accumulators() {
  char ctx[64];
  const auto c = G::CLayout_64xN<N>{};   // (thread, value) -> m + 64 n
  for (int t = 0; t < 128; t++)
    for (int v = 0; v < N / 2; v++) {
      int row, col;
      wgmma_d_at(t, v / 4, v % 4, row, col);
      const long theirs = c(t, v);
      snprintf(ctx, sizeof ctx, "N %d thread %d value %d", N, t, v);
      expect(row + 64 * col == theirs, "D fragment (m + 64 n)", row + 64 * col, theirs, ctx);
    }
}

int main() {
  mma_fragments();
  ldmatrix_maps<SM75_U32x4_LDSM_N>(false);
  ldmatrix_maps<SM75_U16x8_LDSM_T>(true);
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 1024, wg::Cfg<256>::STAGE_BYTES)) return 2;
  host_base = static_cast<unsigned char*>(buffer);
  stage<true, true, 128>();
  stage<true, false, 128>();
  stage<false, true, 128>();
  stage<false, false, 128>();
  stage<true, true, 256>();
  stage<true, false, 256>();
  stage<false, true, 256>();
  stage<false, false, 256>();
  accumulators<128>();
  accumulators<256>();
  printf("tensor-core layouts vs CuTe: %ld comparisons (mma.sync fragments, ldmatrix maps; wgmma tile copies by cp.async and TMA, "
         "descriptors, wgmma_operand_byte, D fragment), %ld mismatches\n", checks, failures);
  return failures ? 1 : 0;
}
