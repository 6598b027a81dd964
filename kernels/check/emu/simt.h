// The SIMT emulator's prelude: g++ compiles each kernels/*.cu as host C++ with this header forced in first, so the
// kernels run on the CPU, one fiber per CUDA thread (simt.cpp), behind a stand-in libcuda.so.1 (driver.cpp) that
// the engine's JCuda binding loads unchanged. What it checks: launch geometry and arguments from CudaBackend, index
// arithmetic, barriers (a __syncthreads some threads never reach is reported as a deadlock), warp collectives,
// cp.async groups (copies land at the wait, not at the issue, so a read before the wait sees stale data), shared
// memory poisoned per block, out-of-bounds global accesses (guard pages). What it cannot: timing, the memory model
// (fibers run one at a time), rounding inside the tensor cores. gemm_wgmma.cu runs on an emulated sm_90 (SIMT_ARCH=90).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "check/mma_emulation.h"
#include "simt_runtime.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <type_traits>
#include <utility>
#include <vector>

namespace emu {
template <class T>
T shfl_xor(unsigned mask, T v, int x) {
  static_assert(sizeof(T) <= 8, "shuffle of a value over 8 bytes");
  const unsigned char* slots = warp_post(&v, sizeof(T), mask);
  T r;
  memcpy(&r, slots + ((lane() ^ x) & 31) * WARP_SLOT, sizeof(T));
  return r;
}
}  // namespace emu

// Kernel sources see the CUDA names.
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __launch_bounds__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __shared__ static   // one block runs at a time: a static is the block's shared variable
#define __launch_bounds__(...)
#define __grid_constant__
#define threadIdx (emu::thread_index())
#define blockIdx (emu::block_index)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define __CUDACC__ 1        // after every system header: kernels guard their __global__ entry points with it
inline void __syncthreads() { emu::syncthreads(); }
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int x) { return emu::shfl_xor(mask, v, x); }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) { return b < a ? b : a; }
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }

// kernels/mma.cuh's five PTX wrappers (it leaves them out under PUPPET_SIMT_EMULATOR), with the PTX manual's
// fragment layouts as kernels/check/mma_emulation.h states them for the host checks.
namespace mma {
inline void cp_async16(uint4* dst, const void* src, bool valid) { emu::cp_async16(dst, src, valid); }
inline void cp_async_commit() { emu::cp_async_commit(); }
template <class T>
inline const T* opaque(const T* p) { return p; }
template <int N>
inline void cp_async_wait() { emu::cp_async_wait(N); }

inline unsigned short half_bits(const uint4* row, int col) {
  unsigned short h[8];
  memcpy(h, row, 16);
  return h[col];
}

// ldmatrix.x4: lane 8j+q gives row q of matrix j (16 aligned bytes); each thread receives the pair
// ldmatrix_source names from each matrix, the first element in the low half.
template <bool TRANS>
inline void ldmatrix_x4(unsigned (&r)[4], const uint4* p) {
  if ((uintptr_t)p % 16) emu::fail("ldmatrix: row address %p is not 16-byte aligned", (const void*)p);
  const unsigned char* posted = emu::warp_post(&p, sizeof p, 0xffffffffu);
  int t = emu::lane();
  for (int j = 0; j < 4; j++) {
    unsigned short bits[2];
    for (int h = 0; h < 2; h++) {
      int row, col;
      ldmatrix_source(t, h, TRANS, row, col);
      const uint4* src;
      memcpy(&src, posted + (8 * j + row) * emu::WARP_SLOT, sizeof src);
      bits[h] = half_bits(src, col);
    }
    r[j] = bits[0] | (unsigned)bits[1] << 16;
  }
}


// mma.m16n8k16 row.col, the operands placed by mma_a_at / mma_b_at, this lane's accumulators by mma_d_at; the
// products are summed in double. The warp's A and B are assembled once per exchange, by its first lane to get there.
template <bool BF16>
inline void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  struct Frag { unsigned a[4], b[2]; } mine = {{a[0], a[1], a[2], a[3]}, {b0, b1}};
  const unsigned char* posted = emu::warp_post(&mine, sizeof mine, 0xffffffffu);
  struct Operands { uint64_t exchange = 0; float A[16][16], B[16][8]; };
  static std::vector<Operands> warps;   // by warp index; one block runs at a time
  const size_t w = (size_t)emu::linear_thread() / 32;
  if (warps.size() <= w) warps.resize(w + 1);
  Operands& op = warps[w];
  if (op.exchange != emu::exchange_serial()) {
    op.exchange = emu::exchange_serial();
    for (int t = 0; t < 32; t++) {
      Frag f;
      memcpy(&f, posted + t * emu::WARP_SLOT, sizeof f);
      for (int h = 0; h < 2; h++) {
        int row, k, col;
        for (int q = 0; q < 4; q++) { mma_a_at(t, q, h, row, k); op.A[row][k] = emu::half_to_float((uint16_t)(f.a[q] >> 16 * h), BF16); }
        for (int q = 0; q < 2; q++) { mma_b_at(t, q, h, k, col); op.B[k][col] = emu::half_to_float((uint16_t)(f.b[q] >> 16 * h), BF16); }
      }
    }
  }
  for (int e = 0; e < 4; e++) {
    int row, col;
    mma_d_at(emu::lane(), e, row, col);
    double sum = c[e];
    for (int k = 0; k < 16; k++) sum += (double)op.A[row][k] * op.B[k][col];
    c[e] = (float)sum;
  }
}
}  // namespace mma

// gemm_wgmma.cu's PTX wrappers (it leaves them out under PUPPET_SIMT_EMULATOR), on hopper.cpp's wgmma, mbarriers,
// named barriers and TMA. The fences are checked where they order something hopper.cpp can see (the proxies, the
// accumulators, the mbarriers' initialisation); register reallocation has nothing to do here.
inline long long clock64() { return emu::clock(); }
inline size_t __cvta_generic_to_shared(const void* p) { return emu::shared_address(p); }
namespace wg {
inline void fence_proxy_async() { emu::fence_proxy_async(); }
inline void wgmma_fence() { emu::wgmma_fence(); }
inline void wgmma_commit() { emu::wgmma_commit(); }
template <int N>
inline void wgmma_wait() { emu::wgmma_wait(N); }
template <int J>
inline void fence_accumulators(float (&)[J][4]) {}
template <bool BF16, bool AK, bool BKM, int N>
inline void wgmma(float (&d)[N / 8][4], uint64_t da, uint64_t db) { emu::wgmma(&d[0][0], N, BF16, AK, BKM, da, db); }
inline void mbar_init(unsigned bar, int count) { emu::mbar_init(bar, count); }
inline void mbar_arrive(unsigned bar) { emu::mbar_arrive(bar, 0); }
inline void mbar_arrive_expect_bytes(unsigned bar, int bytes) { emu::mbar_arrive(bar, bytes); }
inline void mbar_init_fence() { emu::mbar_init_fence(); }
inline bool mbar_done(unsigned bar, int parity) { return emu::mbar_try_wait(bar, parity); }
template <int ID, int N>
inline void bar_sync() { emu::named_barrier(ID, N, true); }
template <int ID, int N>
inline void bar_arrive() { emu::named_barrier(ID, N, false); }
template <int R>
inline void regs_down() {}
template <int R>
inline void regs_up() {}
inline void mbar_expect_bytes(unsigned bar, int bytes) { emu::mbar_expect(bar, bytes); }
template <class Map>
inline void tma_copy(unsigned dst, const Map& map, int rank, int c0, int c1, int c2, unsigned bar) {
  const int coords[3] = {c0, c1, c2};
  emu::tma_box(dst, &map, rank, coords, nullptr, bar);
}
template <class Map>
inline void tma_copy_im2col(unsigned dst, const Map& map, int c, int w, int h, int n, unsigned short offset_w, unsigned short offset_h,
                            unsigned bar) {
  const int coords[4] = {c, w, h, n};
  const unsigned short offsets[2] = {offset_w, offset_h};
  emu::tma_box(dst, &map, 4, coords, offsets, bar);
}
}  // namespace wg

// Registration: each kernel translation unit ends with one EMU_KERNEL(name) per extern "C" kernel (build.sh lists
// them from a first compile), which records a trampoline that unpacks cuLaunchKernel's parameter array into the
// kernel's own argument types, and the argument sizes (a captured graph copies the values).
namespace emu {
template <class F>
struct Signature;
template <class... A>
struct Signature<void (*)(A...)> {
  static constexpr unsigned sizes[sizeof...(A) + 1] = {(unsigned)sizeof(A)..., 0};
  static constexpr int count = sizeof...(A);
  template <void (*F)(A...), size_t... I>
  static void unpack(void** p, std::index_sequence<I...>) { F(*static_cast<std::remove_cv_t<A>*>(p[I])...); }
  template <void (*F)(A...)>
  static void call(void** p) { unpack<F>(p, std::index_sequence_for<A...>{}); }
};
}  // namespace emu
#define EMU_KERNEL(name)                                                                                   \
  static emu::Registered emu_registered_##name(#name, &emu::Signature<decltype(&name)>::call<&name>, \
                                               emu::Signature<decltype(&name)>::sizes,              \
                                               emu::Signature<decltype(&name)>::count);
