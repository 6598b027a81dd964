// Tensor-core GEMM for Hopper (sm_90a): the products, operands (dense or an im2col gather) and epilogue of
// gemm_mma.cu, computed by wgmma: one warpgroup (4 warps) issues a 64 x N x 16 multiply whose A and B the tensor cores
// read straight from shared memory through matrix descriptors, asynchronously, accumulating in registers.
//
// Scope: gemm_mma.cu's four operand layouts (each operand K-major, or MN-major and read transposed by wgmma: the
// forward product and both backward ones without a transposed copy), dense or an im2col gather (implicit-GEMM conv
// forward, weight gradient, input gradient (a strided one reads gy dilated: gemm_tile.cuh's gather_element)).
// Copies: cp.async 16-byte chunks into the 128-byte-swizzled layouts wgmma reads (gemm_tile.cuh: slot() with 8
// chunks per row for a K-major tile, the ATOMS layout for an MN-major one); in gemm_ws, a dense operand may instead
// come through the bulk tensor copy engine (TMA): one thread issues a box copy per tile (an MN-major tile: one per
// 64-wide strip) from a tensor map the host encoded (TensorMaps.java: cuTensorMapEncodeTiled through a JNI shim, as
// JCuda 12.6 does not bind it) with the same 128-byte swizzle, so the stage holds exactly what the cp.async copy
// would have written. A conv's gather with Cin % 64 == 0 comes by TMA's im2col mode (im2col_box); other gathers, and
// GEGLU's interleaved B, stay on cp.async.
// Two block organisations over the same copies, descriptors and epilogue (CudaGemm tunes between them):
//  - gemm: 2 warpgroups (256 threads) own a 128 x BN tile (BN 128 or 256), 64 rows each; k step 64 (one 128-byte
//    swizzled row per tile row); every thread copies and multiplies: a STAGES-deep cp.async ring filled STAGES - 2
//    tiles ahead, so one wgmma batch stays in flight while the next copies are issued and one stage is always free.
//  - gemm_ws (warp-specialised): a third warpgroup only copies (setmaxnreg gives its registers to the two that
//    multiply), the ring's stages handed back and forth through mbarriers (full: the copies landed, TMA bytes
//    included (expect_tx / complete_tx); empty: both multiplying warpgroups retired their wgmma on it), so copies
//    run up to a whole ring ahead, also across output tiles, and the multiplying warpgroups never wait at a
//    block-wide barrier. When TMA brings both operands, one copier thread does everything: it arrives on the
//    stage's full barrier with the expected bytes as it issues the boxes, and the stage is full when they land.
//    Their epilogue goes through a separate 64-row staging buffer, one warpgroup after the other (named barriers),
//    while the copier refills the ring.
// Persistent: CudaGemm launches at most one block per SM; each walks tiles blockIdx.x, + gridDim.x, ... in grouped
// order (GROUP_M tile rows at a time), so blocks running together share their A and B tiles in L2.
// Epilogue: the accumulators are staged through shared memory as an fp32 tile and finished row by row, so
// consecutive threads write consecutive columns of C; the fragment layout would scatter 8-byte pieces instead, and
// indexing 64-128 accumulators from an epilogue loop the compiler does not unroll moves them all to local memory.
// Ordering: every copying thread waits for its cp.async group and issues fence.proxy.async before it signals (the
// barrier or the full mbarrier), so the tensor cores (the async proxy) see what ordinary copies wrote; wgmma.fence
// orders the accumulators' register accesses before each batch.
#include "common.cuh"
#include "gemm_tile.cuh"

namespace wg {
using namespace mma;

constexpr int BM = 128, BK = 64, THREADS = 256, GROUP_M = 8, STAGES = 4;

template <int BN>
struct Cfg {
  static constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2, STAGE_BYTES = A_BYTES + B_BYTES;
  // the ring, plus slack to start it on a 1024-byte boundary (the swizzle repeats every 8 rows of 128 bytes and is
  // computed from the absolute shared address)
  static constexpr int SMEM = STAGES * STAGE_BYTES + 1024;
  static_assert(BM * (BN + 8) * 4 <= STAGES * STAGE_BYTES, "the staged C tile fits in the ring");
};

// Tile t of the persistent schedule -> (batch entry b, tile row tm, tile column tn): per batch entry, column-major
// within groups of GROUP_M tile rows.
__host__ __device__ inline void tile_of(int t, int tiles_m, int tiles_n, int& b, int& tm, int& tn) {
  int per = tiles_m * tiles_n, r = t % per;
  b = t / per;
  int group = GROUP_M * tiles_n, first = r / group * GROUP_M;
  int rows = tiles_m - first < GROUP_M ? tiles_m - first : GROUP_M;
  tm = first + r % group % rows;
  tn = r % group / rows;
}

// A wgmma matrix descriptor, 128-byte swizzle (swizzle mode 1 in bits 62-63; the hardware applies the swizzle to
// the absolute address, so tiles start 1024-aligned and a k slice is a plain offset): start address >> 4 in bits
// 0-13, leading byte offset >> 4 in 16-29, stride byte offset >> 4 in 32-45.
//   K-major tile (rows of 128 bytes along K, atoms of 8 rows): stride byte offset 1024 (atom to atom along M or N),
//   leading byte offset unused (16); a 16-wide k slice is 32 bytes further.
//   MN-major tile (gemm_tile.cuh's ATOMS layout: atoms of 8 K rows x 64 MN elements): leading byte offset BK * 128
//   (64-wide MN strip to strip), stride byte offset 1024 (8 K rows to the next 8); a k slice is 2048 bytes further.
__host__ __device__ inline uint64_t descriptor(unsigned smem_addr, unsigned lbo) {
  return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | (uint64_t)(lbo >> 4) << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}

// The descriptors of one stage (shared address `stage`: A's 128 rows, then B's BN rows): warpgroup g multiplies A's
// rows 64g .. 64g + 63 (K-major: 64 rows further; MN-major: the next strip) by all of B; the k-th 16-wide slice.
template <bool KMAJOR>
__host__ __device__ inline uint64_t a_descriptor(unsigned stage, int g) {
  return KMAJOR ? descriptor(stage + g * 64 * 128, 16) : descriptor(stage + g * BK * 128, BK * 128);
}
template <bool KMAJOR, int BN>
__host__ __device__ inline uint64_t b_descriptor(unsigned stage) {
  return descriptor(stage + Cfg<BN>::A_BYTES, KMAJOR ? 16 : BK * 128);
}
template <bool KMAJOR>
__host__ __device__ inline uint64_t slice(uint64_t desc, int k) { return desc + (KMAJOR ? 32 : 2048) / 16 * k; }

// gemm_ws's shared memory: the ring (STAGES stages; the copier runs ahead by up to all of them), one multiplying
// warpgroup's 64 staged rows of C, then the full and empty mbarriers of every stage.
template <int BN>
struct WsCfg {
  static constexpr int STAGES = BN == 128 ? 5 : 3, THREADS = 384, COPIER_REGS = 40, MATH_REGS = 232;
  static constexpr int RING = STAGES * Cfg<BN>::STAGE_BYTES, HALF = 64 * staged_ld<BN>() * 4, BARRIERS = RING + HALF;
  static constexpr int SMEM = BARRIERS + 2 * STAGES * 8 + 1024;
  static_assert(SMEM <= 227 * 1024, "fits an sm_90 block's shared memory");
  static_assert(STAGES >= 3, "a cp.async copier signals a stage only after issuing the next one: 2 stages deadlock");
  static_assert(128 * COPIER_REGS + 256 * MATH_REGS <= 65536, "the register file holds all three warpgroups");
};

// Iteration it (a block's k tiles counted across its output tiles) uses ring stage it % S; the stage's mbarriers are
// then in their (it / S)-th phase, whose parity a wait names.
__host__ __device__ inline int ring_stage(int it, int stages) { return it % stages; }
__host__ __device__ inline int ring_parity(int it, int stages) { return it / stages & 1; }

// A tensor map (CUtensorMap: 128 opaque bytes, 64-aligned), passed by value as a __grid_constant__ parameter.
struct alignas(64) TensorMap { unsigned long long v[16]; };

// The TMA boxes of an MN x BK operand tile at (mn0, k0), on a tensor map over the operand's (cols, rows[, batch])
// with box (BK, MN) when K-major, (64, BK) when MN-major (TensorMaps.plan builds exactly these): box i's
// coordinates (c0 innermost) and its byte offset in the tile. K-major: one box, rows of 128 bytes = slot()'s layout;
// MN-major: one box per 64-wide strip, BK rows of 128 bytes = the ATOMS layout's strip.
template <bool KMAJOR, int MN>
__host__ __device__ constexpr int tma_boxes() { return KMAJOR ? 1 : MN / 64; }
template <bool KMAJOR>
__host__ __device__ constexpr int tma_box_offset(int i) { return KMAJOR ? 0 : i * BK * 128; }
template <bool KMAJOR>
__host__ __device__ inline int tma_box(int i, int mn0, int k0, int& c0, int& c1) {
  c0 = KMAJOR ? k0 : mn0 + 64 * i;
  c1 = KMAJOR ? mn0 : k0;
  return tma_box_offset<KMAJOR>(i);
}

// The same boxes of an im2col operand (a conv's gather with Cin % 64 == 0) through an im2col tensor map over x
// (N, H, W, Cin) (TensorMaps.im2colPlan: per spatial dim a pixel window from -pad, stepped by the conv stride, one
// position per output; 64 channels per pixel, one pixel per tile row): a box is 64 consecutive channels of one tap
// at consecutive output pixels, which is what the gather's tile rows (K-major: pixels along M or N, 128 bytes of
// channels each) and MN-major strips (pixels along K, 64 channels of one tap across) hold. Its coordinates: channel
// c, the first pixel's window position (w, h) in image n, and the tap (offset_w, offset_h) that moves the window.
template <bool KMAJOR>
__host__ __device__ inline int im2col_box(int i, int mn0, int k0, const Operand& o, int& c, int& w, int& h, int& n,
                                          int& offset_w, int& offset_h) {
  const int pixel = KMAJOR ? mn0 : k0, col = KMAJOR ? k0 : mn0 + 64 * i;
  window_of(o, pixel, n, h, w);
  tap_of(o, col, offset_h, offset_w, c);
  return tma_box_offset<KMAJOR>(i);
}

// Where thread (warpgroup g, warp w, lane) stages accumulator d[j][e]: wgmma's D gives warp w of a warpgroup rows
// 16w.. of its 64, each 8 columns laid out as mma.sync's m16n8 C fragment.
template <int BN>
__host__ __device__ inline int staged_at(int g, int w, int lane, int j, int e) {
  return (g * 64 + w * 16 + acc_row(lane, e)) * staged_ld<BN>() + j * 8 + acc_col(lane, e);
}

#ifndef GEMM_WGMMA_INDEX_ONLY
#ifndef PUPPET_SIMT_EMULATOR  // the SIMT emulator's simt.h supplies these PTX wrappers (kernels/check/emu)
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

// The compiler cannot see that an issued wgmma owns the accumulators until its wait: this ties every accumulator to
// a point in the instruction stream, so no read of one is moved above the wait.
template <int J>
__device__ __forceinline__ void fence_accumulators(float (&d)[J][4]) {
#pragma unroll
  for (int j = 0; j < J; j++)
#pragma unroll
    for (int e = 0; e < 4; e++) asm volatile("" : "+f"(d[j][e])::"memory");
}

// d[j][e] for j in [J, J + 4): 16 accumulator operands (lane layout: mma.sync's m16n8 C fragment, per 8 columns).
#define WG_D4(J) "+f"(d[J][0]), "+f"(d[J][1]), "+f"(d[J][2]), "+f"(d[J][3]), "+f"(d[J + 1][0]), "+f"(d[J + 1][1]), "+f"(d[J + 1][2]), "+f"(d[J + 1][3]), "+f"(d[J + 2][0]), "+f"(d[J + 2][1]), "+f"(d[J + 2][2]), "+f"(d[J + 2][3]), "+f"(d[J + 3][0]), "+f"(d[J + 3][1]), "+f"(d[J + 3][2]), "+f"(d[J + 3][3])
#define WG_D64 WG_D4(0), WG_D4(4), WG_D4(8), WG_D4(12)
#define WG_D128 WG_D64, WG_D4(16), WG_D4(20), WG_D4(24), WG_D4(28)
#define WG_R64 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define WG_R128 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
// D (64 x N, fp32) += A (64 x 16, descriptor da) B (16 x N, descriptor db), scale 1; an MN-major operand is read
// transposed (imm-trans-a / -b = 1).
#define WGMMA(N, TY, REGS, DA, DB, P, TA, TB, OUTS)                                                    \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" P ", 0;\n"                                         \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" REGS "}, %" DA ", %" DB \
               ", p, 1, 1, %" TA ", %" TB ";\n}\n"                                                       \
               : OUTS                                                                                   \
               : "l"(da), "l"(db), "r"(1), "n"(!AK), "n"(!BKM))

template <bool BF16, bool AK, bool BKM, int N>
__device__ __forceinline__ void wgmma(float (&d)[N / 8][4], uint64_t da, uint64_t db) {
  if constexpr (N == 128 && BF16) WGMMA(128, "bf16", WG_R64, "64", "65", "66", "67", "68", WG_D64);
  else if constexpr (N == 128) WGMMA(128, "f16", WG_R64, "64", "65", "66", "67", "68", WG_D64);
  else if constexpr (BF16) WGMMA(256, "bf16", WG_R128, "128", "129", "130", "131", "132", WG_D128);
  else WGMMA(256, "f16", WG_R128, "128", "129", "130", "131", "132", WG_D128);
}

#endif  // PUPPET_SIMT_EMULATOR

template <bool BF16, bool AK, bool BKM, int BN>
__device__ __forceinline__ void gemm(int m, int n, int k, const uint16_t* A, const Operand& oa, const uint16_t* B,
                                     const Operand& ob, const Out& o, int batch) {
  using Cf = Cfg<BN>;
  extern __shared__ uint4 smem[];
  const unsigned raw = (unsigned)__cvta_generic_to_shared(smem), pad = (1024 - raw % 1024) % 1024;
  const unsigned ring = raw + pad;                                  // shared address of stage 0
  uint4* const ring_p = smem + pad / 16;
  const int lane = threadIdx.x % 32, group = threadIdx.x / 128, warp = threadIdx.x % 128 / 32;
  const int tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN, ktiles = (k + BK - 1) / BK;
  const int total = tiles_m * tiles_n * batch;

  for (int t = blockIdx.x; t < total; t += gridDim.x) {
    int bt, tm, tn;
    tile_of(t, tiles_m, tiles_n, bt, tm, tn);
    const long long b = bt;
    const int bm = tm * BM, bn = tn * BN;
    const uint16_t* a = A + b * oa.bs;
    const uint16_t* bb = B + b * ob.bs;
    float d[BN / 8][4];
    // The k loop, with how A's and B's copies find their memory (gemm_tile.cuh: with_copy_kinds). Each copy zeroes
    // the accumulators and retires its last wgmma itself: register moves where the copies join, inside a wgmma's
    // flight, serialise every wgmma (ptxas C7515).
    auto k_loop = [&](const auto& how_a, const auto& how_b) {
#pragma unroll
      for (int j = 0; j < BN / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) d[j][e] = 0.f;
      auto load = [&](int kt) {  // tile kt into stage kt % STAGES: A's 128 rows, then B's BN rows
        uint4* s = ring_p + kt % STAGES * (Cf::STAGE_BYTES / 16);
        load_tile<AK, BM, BK, THREADS, true>(s, a, oa, bm, kt * BK, 0, how_a);
        load_tile<BKM, BN, BK, THREADS, true>(s + Cf::A_BYTES / 16, bb, ob, bn, kt * BK, o.half, how_b);
      };
      for (int s = 0; s < STAGES - 2; s++) {
        if (s < ktiles) load(s);
        cp_async_commit();
      }
      for (int kt = 0; kt < ktiles; kt++) {
        cp_async_wait<STAGES - 3>();  // tile kt has landed (this thread's copies) ...
        fence_proxy_async();          // ... is visible to the tensor cores ...
        __syncthreads();              // ... for every thread's copies; and both warpgroups have retired batch kt - 2
        if (kt + STAGES - 2 < ktiles) load(kt + STAGES - 2);  // into tile kt - 2's stage
        cp_async_commit();            // an empty group near the end keeps the wait count uniform
        const unsigned stage = ring + kt % STAGES * Cf::STAGE_BYTES;
        const uint64_t da = a_descriptor<AK>(stage, group), db = b_descriptor<BKM, BN>(stage);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) wgmma<BF16, AK, BKM, BN>(d, slice<AK>(da, kk), slice<BKM>(db, kk));
        wgmma_commit();
        wgmma_wait<1>();  // batch kt - 1 is done
      }
      wgmma_wait<0>();
      fence_accumulators(d);
    };
    with_copy_kinds<AK, BKM, BM, BN, BK, THREADS>(oa, ob, bm, bn, o.half, threadIdx.x, k_loop);
    cp_async_wait<0>();
    __syncthreads();  // both warpgroups are done with the ring: it stages C now
    float* staged = reinterpret_cast<float*>(ring_p);
#pragma unroll
    for (int j = 0; j < BN / 8; j++)
#pragma unroll
      for (int e = 0; e < 4; e += 2)
        *reinterpret_cast<float2*>(staged + staged_at<BN>(group, warp, lane, j, e)) = make_float2(d[j][e], d[j][e + 1]);
    __syncthreads();
    store_tile<BM, BN, THREADS>(staged, o, b, bm, bn, threadIdx.x);
    __syncthreads();  // the staged tile is read before the next tile's copies refill the ring
  }
}

#ifndef PUPPET_SIMT_EMULATOR
// mbarriers (shared addresses): init with an arrival count; arrive (release); test whether the phase of `parity`
// has completed (acquire), i.e. the barrier's current phase has the other parity.
__device__ __forceinline__ void mbar_init(unsigned bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(bar) : "memory");
}
// Arrives and adds `bytes` of TMA copies to the phase: it completes once they land (and the other arrivals are in).
__device__ __forceinline__ void mbar_arrive_expect_bytes(unsigned bar, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Makes the initialised mbarriers visible to the other threads and to the TMA unit (as CUTLASS's sm90 pipelines do).
__device__ __forceinline__ void mbar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
__device__ __forceinline__ bool mbar_done(unsigned bar, int parity) {
  unsigned done;
  asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
               : "=r"(done) : "r"(bar), "r"(parity) : "memory");
  return done;
}

// Named barriers 1.. among N threads (0 is __syncthreads): sync waits, arrive only counts. Immediate ids, so ptxas
// reserves only the barriers used.
template <int ID, int N>
__device__ __forceinline__ void bar_sync() { asm volatile("bar.sync %0, %1;\n" ::"n"(ID), "n"(N) : "memory"); }
template <int ID, int N>
__device__ __forceinline__ void bar_arrive() { asm volatile("bar.arrive %0, %1;\n" ::"n"(ID), "n"(N) : "memory"); }

template <int R>
__device__ __forceinline__ void regs_down() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R)); }
template <int R>
__device__ __forceinline__ void regs_up() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R)); }

// The phase of `bar` also waits for `bytes` of TMA copies (each decrements the count as it lands).
__device__ __forceinline__ void mbar_expect_bytes(unsigned bar, int bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// One TMA box copy from `map` at (c0, c1[, c2]) into shared address dst, counted on mbarrier bar. rank 2: the map has
// no batch dimension (batch 1, or an operand shared by every batch entry).
__device__ __forceinline__ void tma_copy(unsigned dst, const TensorMap& map, int rank, int c0, int c1, int c2, unsigned bar) {
  const unsigned long long m = reinterpret_cast<unsigned long long>(&map);
  if (rank == 3)
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n"
                 ::"r"(dst), "l"(m), "r"(c0), "r"(c1), "r"(c2), "r"(bar) : "memory");
  else
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(dst), "l"(m), "r"(c0), "r"(c1), "r"(bar) : "memory");
}

// One im2col box from `map` (rank 4: C, W, H, N) at (c, w, h, n), the window moved by the tap (offset_w, offset_h).
__device__ __forceinline__ void tma_copy_im2col(unsigned dst, const TensorMap& map, int c, int w, int h, int n,
                                                unsigned short offset_w, unsigned short offset_h, unsigned bar) {
  const unsigned long long m = reinterpret_cast<unsigned long long>(&map);
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6], {%7, %8};\n"
               ::"r"(dst), "l"(m), "r"(c), "r"(w), "r"(h), "r"(n), "r"(bar), "h"(offset_w), "h"(offset_h) : "memory");
}
#endif  // PUPPET_SIMT_EMULATOR

// Waits for the phase of `parity`. A wait of 2^32 clocks (seconds; a stage turns over in microseconds) is a protocol
// fault: it marks the block failed, after which no wait blocks and the epilogue writes NaN, so a fault fails
// CudaGemm's validation (the tile is then never used) instead of hanging the process. (No printf: a call inside the
// main loop makes ptxas serialise every wgmma.)
__device__ __forceinline__ void mbar_wait(unsigned bar, int parity, volatile int* failed) {
  const long long start = clock64();
  while (!*failed && !mbar_done(bar, parity))
    if (clock64() - start > (1ll << 32)) *failed = 1;
}

// The map modes an operand can have: 0 none (cp.async), 2 / 3 a tiled map of that rank, IM2COL an im2col map.
constexpr int IM2COL = 4;

// Copies one operand tile into shared address dst by TMA (thread 0 only; mode as above, never 0 here).
template <bool KMAJOR, int MN>
__device__ __forceinline__ void tma_tile(unsigned dst, const TensorMap& map, int mode, const Operand& o, int mn0, int k0, int b,
                                         unsigned bar) {
#pragma unroll
  for (int i = 0; i < tma_boxes<KMAJOR, MN>(); i++) {
    if (mode == IM2COL) {
      int c, w, h, n, ow, oh;
      const int off = im2col_box<KMAJOR>(i, mn0, k0, o, c, w, h, n, ow, oh);
      tma_copy_im2col(dst + off, map, c, w, h, n, (unsigned short)ow, (unsigned short)oh, bar);
    } else {
      int c0, c1;
      const int off = tma_box<KMAJOR>(i, mn0, k0, c0, c1);
      tma_copy(dst + off, map, mode, c0, c1, b, bar);
    }
  }
}

// The warp-specialised block (the header's gemm_ws): warpgroup 0 copies, warpgroups 1 and 2 multiply rows 0-63 and
// 64-127 of each output tile. Both sides count iterations `it` across the block's tiles the same way.
// ta / tb: tensor maps of A and B, used where mode_a / mode_b is 2 or 3 (a tiled map's rank) or IM2COL (0: copied by
// cp.async).
template <bool BF16, bool AK, bool BKM, int BN>
__device__ __forceinline__ void gemm_ws(int m, int n, int k, const uint16_t* A, const Operand& oa, const uint16_t* B,
                                        const Operand& ob, const Out& o, int batch, const TensorMap& ta, int mode_a,
                                        const TensorMap& tb, int mode_b) {
  using Cf = Cfg<BN>;
  using W = WsCfg<BN>;
  constexpr int S = W::STAGES;
  extern __shared__ uint4 smem[];
  __shared__ int failed;
  const unsigned raw = (unsigned)__cvta_generic_to_shared(smem), pad = (1024 - raw % 1024) % 1024;
  const unsigned ring = raw + pad, full = ring + W::BARRIERS, empty = full + S * 8;
  uint4* const ring_p = smem + pad / 16;
  const int tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN, ktiles = (k + BK - 1) / BK;
  const int total = tiles_m * tiles_n * batch;
  const bool tma_only = mode_a && mode_b;  // no cp.async: thread 0 alone copies and signals
  if (threadIdx.x == 0) {
    failed = 0;
    for (int s = 0; s < S; s++) {
      mbar_init(full + 8 * s, tma_only ? 1 : 128);  // thread 0 as it issues the boxes, or every copying thread once
                                                    // its copies for the stage have landed
      mbar_init(empty + 8 * s, 256);  // every multiplying thread, once its wgmma on the stage retired
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (threadIdx.x < 128) {  // the copier
    regs_down<W::COPIER_REGS>();
    if (tma_only && threadIdx.x != 0) return;
    // TMA bytes per stage (a box's bytes count in full, its zero-filled part past the operand's edges included)
    const int tma_bytes = (mode_a ? Cf::A_BYTES : 0) + (mode_b ? Cf::B_BYTES : 0);
    int it = 0;
    for (int t = blockIdx.x; t < total; t += gridDim.x) {
      int bt, tm, tn;
      tile_of(t, tiles_m, tiles_n, bt, tm, tn);
      const uint16_t* a = A + bt * oa.bs;
      const uint16_t* bb = B + bt * ob.bs;
      // the tile's k loop, with how this thread's cp.async copies find their memory (from a loop, two at a time)
      auto k_loop = [&](const auto& how_a, const auto& how_b) {
        for (int kt = 0; kt < ktiles; kt++, it++) {
          const int s = ring_stage(it, S);
          mbar_wait(empty + 8 * s, ring_parity(it, S) ^ 1, &failed);  // stage s retired its previous use (none at first)
          uint4* st = ring_p + s * (Cf::STAGE_BYTES / 16);
          const unsigned sa = ring + s * Cf::STAGE_BYTES;
          if (tma_bytes && threadIdx.x == 0) {  // the bytes join the phase before any copy lands, and before this
                                                 // thread's own arrival: the phase waits for them
            if (tma_only) mbar_arrive_expect_bytes(full + 8 * s, tma_bytes);
            else mbar_expect_bytes(full + 8 * s, tma_bytes);
            if (mode_a) tma_tile<AK, BM>(sa, ta, mode_a, oa, tm * BM, kt * BK, bt, full + 8 * s);
            if (mode_b) tma_tile<BKM, BN>(sa + Cf::A_BYTES, tb, mode_b, ob, tn * BN, kt * BK, bt, full + 8 * s);
          }
          if (tma_only) continue;
          if (!mode_a) load_tile<AK, BM, BK, 128, true, 2>(st, a, oa, tm * BM, kt * BK, 0, how_a);
          if (!mode_b) load_tile<BKM, BN, BK, 128, true, 2>(st + Cf::A_BYTES / 16, bb, ob, tn * BN, kt * BK, o.half, how_b);
          cp_async_commit();
          if (it > 0) {  // the previous stage's copies have landed: make them visible to the tensor cores, signal
            cp_async_wait<1>();
            fence_proxy_async();
            mbar_arrive(full + 8 * ring_stage(it - 1, S));
          }
        }
      };
      with_copy_kinds<AK, BKM, BM, BN, BK, 128, true>(oa, ob, tm * BM, tn * BN, o.half, threadIdx.x, k_loop);
    }
    if (!tma_only) {
      cp_async_wait<0>();
      fence_proxy_async();
      if (it > 0) mbar_arrive(full + 8 * ring_stage(it - 1, S));
    }
    return;
  }

  regs_up<W::MATH_REGS>();
  const int g = threadIdx.x / 128 - 1, tid = threadIdx.x % 128, lane = tid % 32, warp = tid / 32;
  float* const half = reinterpret_cast<float*>(ring_p + W::RING / 16);
  int it = 0;
  for (int t = blockIdx.x; t < total; t += gridDim.x) {
    int bt, tm, tn;
    tile_of(t, tiles_m, tiles_n, bt, tm, tn);
    float d[BN / 8][4];
#pragma unroll
    for (int j = 0; j < BN / 8; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) d[j][e] = 0.f;
    for (int kt = 0; kt < ktiles; kt++, it++) {
      const int s = ring_stage(it, S);
      mbar_wait(full + 8 * s, ring_parity(it, S), &failed);
      const unsigned stage = ring + s * Cf::STAGE_BYTES;
      const uint64_t da = a_descriptor<AK>(stage, g), db = b_descriptor<BKM, BN>(stage);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BK / 16; kk++) wgmma<BF16, AK, BKM, BN>(d, slice<AK>(da, kk), slice<BKM>(db, kk));
      wgmma_commit();
      wgmma_wait<1>();  // the previous batch retired: its stage is free
      if (kt > 0) mbar_arrive(empty + 8 * ring_stage(it - 1, S));
    }
    wgmma_wait<0>();
    fence_accumulators(d);
    if (ktiles > 0) mbar_arrive(empty + 8 * ring_stage(it - 1, S));  // k = 0: no stage was used (C = bias ...)
    // epilogue through the one staging buffer: warpgroup 0 after warpgroup 1 finished the previous tile (barrier
    // 2), warpgroup 1 after warpgroup 0 finished this one (barrier 1); 3 + g orders a warpgroup's own writes/reads
    if (g == 1) bar_sync<1, 256>();
    else if (t != blockIdx.x) bar_sync<2, 256>();
    const bool bad = failed;
#pragma unroll
    for (int j = 0; j < BN / 8; j++)
#pragma unroll
      for (int e = 0; e < 4; e += 2)
        *reinterpret_cast<float2*>(half + staged_at<BN>(0, warp, lane, j, e)) = bad ? make_float2(NAN, NAN) : make_float2(d[j][e], d[j][e + 1]);
    g ? bar_sync<4, 128>() : bar_sync<3, 128>();
    store_tile<64, BN, 128>(half, o, bt, tm * BM + 64 * g, tn * BN, tid);
    g ? bar_sync<4, 128>() : bar_sync<3, 128>();
    if (g == 0) bar_arrive<1, 256>();
    else if (t + (int)gridDim.x < total) bar_arrive<2, 256>();
  }
}
#endif

}  // namespace wg

#ifndef GEMM_WGMMA_INDEX_ONLY  // kernels/check/gemm_wgmma_host_check.cu includes this file for its index functions only
// Entry points gemm_wgmma[_ws]_<dtype>_<A layout><B layout>_128x<BN> (k = K-major, m/n = MN-major): gemm_mma.cu's
// arguments plus the batch count (the grid is persistent, not one layer per batch entry). Threads and dynamic shared
// memory: gemm 256 and Cfg<BN>::SMEM, gemm_ws 384 and WsCfg<BN>::SMEM (CudaGemm raises the limit; GemmTuner.Tile).
#define GEMM_WGMMA_ENTRY(NAME, BF16, AK, BKM, BN)                                                                 \
  extern "C" __global__ void __launch_bounds__(wg::THREADS, 1) NAME(GEMM_PARAMS, int batch) {                     \
    wg::gemm<BF16, AK, BKM, BN>(m, n, k, (const uint16_t*)A, oa, (const uint16_t*)B, ob, GEMM_OUT, batch);        \
  }
// gemm_ws also takes A's and B's tensor maps and their modes (0: copied by cp.async; 2, 3: tiled; 4: im2col).
#define GEMM_WGMMA_WS_ENTRY(NAME, BF16, AK, BKM, BN)                                                              \
  extern "C" __global__ void __launch_bounds__(wg::WsCfg<BN>::THREADS, 1)                                         \
      NAME(GEMM_PARAMS, int batch, const __grid_constant__ wg::TensorMap ta, int mode_a,                          \
           const __grid_constant__ wg::TensorMap tb, int mode_b) {                                                \
    wg::gemm_ws<BF16, AK, BKM, BN>(m, n, k, (const uint16_t*)A, oa, (const uint16_t*)B, ob, GEMM_OUT, batch, ta,   \
                                   mode_a, tb, mode_b);                                                           \
  }
#define GEMM_WGMMA_TILES(KIND, BF16, AK, BKM)                                                        \
  GEMM_WGMMA_ENTRY(gemm_wgmma_##KIND##_128x128, BF16, AK, BKM, 128)                                  \
  GEMM_WGMMA_ENTRY(gemm_wgmma_##KIND##_128x256, BF16, AK, BKM, 256)                                  \
  GEMM_WGMMA_WS_ENTRY(gemm_wgmma_ws_##KIND##_128x128, BF16, AK, BKM, 128)                            \
  GEMM_WGMMA_WS_ENTRY(gemm_wgmma_ws_##KIND##_128x256, BF16, AK, BKM, 256)
GEMM_WGMMA_TILES(bf16_kk, true, true, true)
GEMM_WGMMA_TILES(bf16_kn, true, true, false)
GEMM_WGMMA_TILES(bf16_mk, true, false, true)
GEMM_WGMMA_TILES(bf16_mn, true, false, false)
GEMM_WGMMA_TILES(f16_kk, false, true, true)
GEMM_WGMMA_TILES(f16_kn, false, true, false)
GEMM_WGMMA_TILES(f16_mk, false, false, true)
GEMM_WGMMA_TILES(f16_mn, false, false, false)
#endif
