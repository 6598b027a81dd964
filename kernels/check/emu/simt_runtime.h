// What the SIMT emulator's parts share: the kernels' view (through simt.h), the scheduler (simt.cpp) and the
// stand-in driver (driver.cpp).
#pragma once
#include <cuda_fp16.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <string>

namespace emu {
struct Index3 { unsigned x, y, z; };

struct Thread;
extern Thread* current;                  // the fiber running now
extern Index3 block_index, block_dim, grid_dim;
extern int current_lane;                 // its lane (linear thread index % 32)
const Index3& thread_index();
inline int lane() { return current_lane; }

void syncthreads();
[[noreturn]] void fail(const char* fmt, ...);
void* dynamic_shared();

// A 16-bit tensor-core operand's value: bf16 (a float's top half) or IEEE half.
inline float half_to_float(uint16_t h, bool bf16) {
  if (bf16) {
    const uint32_t f = (uint32_t)h << 16;
    float v;
    memcpy(&v, &f, 4);
    return v;
  }
  __half x;
  memcpy(&x, &h, 2);
  return __half2float(x);
}

// Every live lane of the calling warp posts `size` bytes (at most WARP_SLOT) and waits for the others; lane l's bytes
// are then at the returned address + l * WARP_SLOT, readable until the caller's next warp_post. `mask` must be the
// warp's live lanes (a collective over exited or missing lanes is an error, as it is undefined on a GPU).
constexpr int WARP_SLOT = 64;
const unsigned char* warp_post(const void* mine, int size, unsigned mask);
// The calling lane's last exchange: the same number for every lane of it, never reused (lanes of one warp can cache
// what they derive from the exchanged values under it).
uint64_t exchange_serial();

// cp.async: the 16 bytes are queued and land when a cp.async.wait_group retires their group (or at thread exit).
void cp_async16(void* dst, const void* src, bool valid);
void cp_async_commit();
void cp_async_wait(int pending);

// Hopper's block-level machinery for gemm_wgmma.cu (hopper.cpp; simt.h's wrappers call these). Shared addresses are
// offsets into the block's shared window, where dynamic shared memory starts at SHARED_BASE (not 1024-aligned, as
// after a GPU's reserved and static shared memory, so the kernels' own alignment of their swizzled ring is exercised).
constexpr unsigned SHARED_BASE = 0x410;
unsigned shared_address(const void* p);
unsigned char* shared_pointer(unsigned address, size_t bytes);   // fails outside the window
int linear_thread();                 // threadIdx as one index
void spin();                         // a poll that found nothing: the other fibers run first (no progress)
void progress();                     // counts as progress for deadlock detection
unsigned random_below(unsigned n);   // the scheduler's seeded random stream
// bar.sync / bar.arrive on named barrier id (1-15) with a thread count (a multiple of 32)
void named_barrier(int id, int count, bool wait);
long long clock();
void hopper_block_begin(int threads, size_t shared_bytes);
std::string hopper_block_end();      // "" or what the block left in flight
void hopper_thread_exit();           // fails when the thread exits with wgmma not waited for
void generic_shared_write(unsigned address, int bytes);   // a cp.async landed (the generic proxy wrote)

void fence_proxy_async();
void wgmma_fence();
void mbar_init_fence();
void wgmma(float* d, int n, bool bf16, bool a_kmajor, bool b_kmajor, uint64_t da, uint64_t db);
void wgmma_commit();
void wgmma_wait(int pending);
void mbar_init(unsigned bar, int count);
void mbar_arrive(unsigned bar, int expect_bytes);   // expect_bytes > 0: arrive.expect_tx
void mbar_expect(unsigned bar, int bytes);
bool mbar_try_wait(unsigned bar, int parity);
// cp.async.bulk.tensor: a box of `map` (128 bytes, as the stand-in driver encoded it) at coords into shared dst,
// completing `bytes` on mbarrier bar when it lands. offsets: im2col's tap offsets (W, H), null for tiled mode.
void tma_box(unsigned dst, const void* map, int rank, const int* coords, const unsigned short* offsets, unsigned bar);

// The stand-in driver's tensor map (what cuTensorMapEncodeTiled / Im2col write into CUtensorMap's 128 opaque bytes).
struct TensorMapImage {
  static constexpr uint32_t MAGIC = 0x53494d54;   // "SIMT"
  uint32_t magic;
  uint8_t im2col, rank, element_size, swizzle;    // swizzle: CUtensorMapSwizzle (3 = 128B)
  uint64_t word1;                                 // the map's second word: see SMALL_TENSOR_BIT
  uint64_t address;
  uint64_t dims[5], strides[4];                   // strides in bytes, of dims 1..rank-1
  uint16_t box[5];                                // tiled: box dims; im2col: unused
  uint8_t element_strides[5];
  int16_t lower[3], upper[3];                     // im2col: the pixel window's corners (spatial dims, W first)
  uint16_t channels, pixels;                      // im2col: channels per pixel, pixels per box
};
static_assert(sizeof(TensorMapImage) <= 128, "a tensor map is 128 bytes");
static_assert(offsetof(TensorMapImage, word1) == 8, "word1 is the map's second 64-bit word");

// Drivers up to 13.1 (cuDriverGetVersion <= 13010; the stand-in says 13000) have a bug that makes kernels reading
// a map over a tensor of under 128 KiB occasionally fail, unless bit 21 of the map's second word is cleared after
// encoding (CUTLASS 4.3.4 does so; TensorMaps.smallTensorWorkaround too). The stand-in encoder sets the bit, and a
// box copied through a small tensor's map that still has it fails the launch: the one observable part we can model.
constexpr uint64_t SMALL_TENSOR_BIT = 1ull << 21;
constexpr unsigned long long SMALL_TENSOR_BYTES = 128 * 1024;

// A kernel's entry: unpacks cuLaunchKernel's parameter array into the kernel's argument types and calls it.
using Trampoline = void (*)(void** params);

// Records a kernel under its name (EMU_KERNEL in simt.h); sizes: the arguments' sizes in bytes.
struct Registered {
  Registered(const char* name, Trampoline call, const unsigned* sizes, int count);
};

// Whether [p, p + n) lies in a device allocation (driver.cpp).
bool is_device_memory(const void* p, size_t n);

// Counts one occurrence of `what`; with SIMT_STATS set, the counts are printed at exit (driver.cpp).
void tally(const std::string& what);

// Runs a whole grid; "" on success, else what went wrong and where.
std::string run_grid(Trampoline kernel, void** params, Index3 grid, Index3 block, size_t dynamic_shared_bytes);
}  // namespace emu
