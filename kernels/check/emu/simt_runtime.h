// What the SIMT emulator's parts share: the kernels' view (through simt.h), the scheduler (simt.cpp) and the
// stand-in driver (driver.cpp).
#pragma once
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

// Every live lane of the calling warp posts `size` bytes (at most WARP_SLOT) and waits for the others; lane l's bytes
// are then at the returned address + l * WARP_SLOT, readable until the caller's next warp_post. `mask` must be the
// warp's live lanes (a collective over exited or missing lanes is an error, as it is undefined on a GPU).
constexpr int WARP_SLOT = 64;
const unsigned char* warp_post(const void* mine, int size, unsigned mask);

// cp.async: the 16 bytes are queued and land when a cp.async.wait_group retires their group (or at thread exit).
void cp_async16(void* dst, const void* src, bool valid);
void cp_async_commit();
void cp_async_wait(int pending);

// A kernel's entry: unpacks cuLaunchKernel's parameter array into the kernel's argument types and calls it.
using Trampoline = void (*)(void** params);

// Records a kernel under its name (EMU_KERNEL in simt.h); sizes: the arguments' sizes in bytes.
struct Registered {
  Registered(const char* name, Trampoline call, const unsigned* sizes, int count);
};

// Whether [p, p + n) lies in a device allocation (driver.cpp).
bool is_device_memory(const void* p, size_t n);

// Runs a whole grid; "" on success, else what went wrong and where.
std::string run_grid(Trampoline kernel, void** params, Index3 grid, Index3 block, size_t dynamic_shared_bytes);
}  // namespace emu
