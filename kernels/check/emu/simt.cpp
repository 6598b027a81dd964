// The SIMT emulator's scheduler: one block at a time, one fiber per CUDA thread, all on the calling OS thread. A
// fiber runs until it waits at a barrier (__syncthreads, a named barrier, or a warp collective: shuffles, ldmatrix,
// mma.sync) or polls an mbarrier in vain (hopper.cpp); the scheduler resumes the waiting fibers in rounds, and a
// barrier opens when every live thread of its block or warp has arrived (exited threads no longer count, as on Volta
// and newer), a named barrier when its thread count has. Each round visits the fibers in a fresh random
// order (SIMT_ORDER=forward|reverse|random, SIMT_SEED; default random, seed 1, so a run repeats): the code between two
// barriers of different threads runs in no fixed order, as on a GPU, so a missing barrier between one warp's write
// and another's read shows up in some launches instead of never. A full round with no arrival, release or exit is a
// deadlock, reported with where the threads wait. Failures end the launch with a message; the driver turns them
// into CUDA_ERROR_LAUNCH_FAILED for the launch that caused them.
#include "simt_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#if !defined(__x86_64__)
#error "the SIMT emulator's fiber switch is written for x86-64"
#endif

// Fiber switch: saves the callee-saved registers and the SSE / x87 control words on the current stack, stores the
// stack pointer in *from and continues on `to`. (glibc's swapcontext also saves the signal mask: a system call per
// switch, which was four fifths of the emulator's time.)
extern "C" void emu_switch(void** from, void* to);
asm(R"(
  .text
  .globl emu_switch
  .hidden emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");

namespace emu {
namespace {
constexpr size_t STACK = 256 << 10;   // per fiber; a guard page below it turns an overflow into a fault
constexpr int SLOT = WARP_SLOT;

struct Copy {
  void* dst;
  const void* src;
  bool valid;
};

struct Barrier {
  int arrived = 0, expected = 0;
  unsigned long generation = 0;
};

// Exchange slots are double-buffered by barrier generation: a lane that has read exchange g's slots may write
// exchange g + 1's before the others have read g's, but cannot reach g + 2 before they have (g + 1's barrier).
struct Warp {
  Barrier barrier;
  unsigned live = 0;   // lanes not exited
  unsigned char slots[2][32 * SLOT];
  uint64_t exchange = 0;   // the serial of the exchange being gathered
};
uint64_t exchanges;        // exchange serials, unique in the process

enum class Wait { NONE, BLOCK, WARP, NAMED, SPIN };
}  // namespace

struct Thread {
  Index3 index;
  int linear = 0;
  bool done = false;
  Wait waiting = Wait::NONE;
  const Barrier* blocked = nullptr;   // the barrier it waits at, and that barrier's generation then
  unsigned long blocked_generation = 0;
  void* sp = nullptr;       // saved stack pointer while suspended
  char* stack = nullptr;
  std::vector<Copy> open;                   // cp.async copies not yet committed to a group
  std::deque<std::vector<Copy>> groups;     // committed, not yet retired
  uint64_t exchange = 0;                    // the serial of its last warp exchange
};

Thread* current;
int current_lane;
Index3 block_index, block_dim, grid_dim;

namespace {
void* scheduler;
std::vector<Thread> threads;
std::vector<Warp> warps;
Barrier block_barrier;
Barrier named[16];                       // bar.sync / bar.arrive ids 1-15 (0 is __syncthreads)
long long ticks;                         // clock64()
std::vector<char*> stacks;               // kept across launches
std::vector<unsigned char> shared_bytes;
unsigned char* shared_base;
size_t shared_size;
Trampoline kernel;
void** kernel_params;
unsigned long events;   // arrivals, releases and exits: a round without any is a deadlock
std::vector<int> order;

enum class Order { FORWARD, REVERSE, RANDOM };
Order order_kind() {
  const char* e = getenv("SIMT_ORDER");
  if (!e || !strcmp(e, "random")) return Order::RANDOM;
  if (!strcmp(e, "forward")) return Order::FORWARD;
  if (!strcmp(e, "reverse")) return Order::REVERSE;
  fprintf(stderr, "[simt] SIMT_ORDER=%s: not forward, reverse or random; using random\n", e);
  return Order::RANDOM;
}
const Order ORDER = order_kind();
uint64_t rng = getenv("SIMT_SEED") ? strtoull(getenv("SIMT_SEED"), nullptr, 10) | 1 : 1;

uint64_t xorshift() {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

void shuffle(std::vector<int>& v) {   // Fisher-Yates: the shuffle runs every round
  for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[xorshift() % i]);
}
bool failed;
std::string failure;

void suspend() {
  Thread* self = current;
  emu_switch(&self->sp, scheduler);
}

void arrive(Barrier& b, Wait kind) {
  events++;
  unsigned long generation = b.generation;
  if (++b.arrived >= b.expected) {
    b.arrived = 0;
    b.generation++;
    return;
  }
  current->waiting = kind;
  current->blocked = &b;
  current->blocked_generation = generation;
  suspend();   // the scheduler resumes it once the generation has moved on
  current->waiting = Wait::NONE;
  current->blocked = nullptr;
}

// An exited thread stops counting: a barrier the others already wait at may open now.
void leave(Barrier& b) {
  b.expected--;
  if (b.arrived > 0 && b.arrived >= b.expected) {
    b.arrived = 0;
    b.generation++;
  }
}

void retire(std::vector<Copy>& copies) {
  for (const Copy& c : copies) {
    if (c.valid) memcpy(c.dst, c.src, 16);
    else memset(c.dst, 0, 16);
    const unsigned char* d = (const unsigned char*)c.dst;
    if (d >= shared_base && d + 16 <= shared_base + shared_size) generic_shared_write(SHARED_BASE + (unsigned)(d - shared_base), 16);
  }
  copies.clear();
}

void run_thread() {
  Thread* self = current;
  kernel(kernel_params);
  for (auto& g : self->groups) retire(g);
  self->groups.clear();
  retire(self->open);
  hopper_thread_exit();
  self->done = true;
  events++;
  leave(block_barrier);
  Warp& w = warps[self->linear / 32];
  w.live &= ~(1u << (self->linear % 32));
  leave(w.barrier);
  suspend();   // never resumed
}

char* new_stack() {
  void* p = mmap(nullptr, STACK + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  mprotect(p, 4096, PROT_NONE);
  return (char*)p + 4096;
}

std::string describe_deadlock() {
  int atBlock = 0, atWarp = 0, atNamed = 0, spinning = 0, exited = 0, first = -1;
  for (Thread& t : threads) {
    if (t.done) exited++;
    else if (t.waiting == Wait::BLOCK) atBlock++;
    else if (t.waiting == Wait::NAMED) atNamed++;
    else if (t.waiting == Wait::SPIN) spinning++;
    else if (t.waiting == Wait::WARP) { atWarp++; if (first < 0) first = t.linear; }
  }
  char buf[320];
  snprintf(buf, sizeof buf, "deadlock: %d threads wait at __syncthreads, %d at a named barrier, %d poll an mbarrier whose phase "
           "never completes, %d at a warp collective (first: thread %d), %d exited", atBlock, atNamed, spinning, atWarp, first, exited);
  return buf;
}

// Runs one block to completion; false when it failed (failure says why).
bool run_block() {
  block_barrier = Barrier{};
  block_barrier.expected = (int)threads.size();
  for (size_t w = 0; w < warps.size(); w++) {
    int lanes = (int)std::min<size_t>(32, threads.size() - 32 * w);
    warps[w].barrier = Barrier{};
    warps[w].barrier.expected = lanes;
    warps[w].live = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
  }
  for (Barrier& b : named) b = Barrier{};
  memset(shared_base, 0xff, shared_size);   // stale shared memory reads as NaN
  hopper_block_begin((int)threads.size(), shared_size);
  for (Thread& t : threads) {
    t.done = false;
    t.waiting = Wait::NONE;
    t.open.clear();
    t.groups.clear();
    // A fresh stack as emu_switch leaves one: control words, six registers, then run_thread as the return address
    // (with a null one above it, so that run_thread starts with the stack alignment of a called function).
    uint64_t* top = (uint64_t*)(t.stack + STACK);
    top[-1] = 0;
    top[-2] = (uint64_t)(uintptr_t)&run_thread;
    for (int r = 3; r <= 8; r++) top[-r] = 0;
    uint32_t* control = (uint32_t*)&top[-9];
    control[0] = 0x1f80;   // MXCSR: all exceptions masked, round to nearest
    control[1] = 0x037f;   // x87 control word, likewise
    t.sp = &top[-9];
  }
  order.resize(threads.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = ORDER == Order::REVERSE ? (int)(order.size() - 1 - i) : (int)i;
  size_t live = threads.size();
  while (live > 0) {
    unsigned long before = events;
    if (ORDER == Order::RANDOM) shuffle(order);
    for (int i : order) {
      Thread& t = threads[i];
      if (t.done || (t.blocked && t.blocked->generation == t.blocked_generation)) continue;
      current = &t;
      current_lane = t.linear % 32;
      emu_switch(&scheduler, t.sp);
      if (failed) return false;
      if (t.done) live--;
    }
    if (live > 0 && events == before) {
      failure = describe_deadlock();
      return false;
    }
  }
  failure = hopper_block_end();
  return failure.empty();
}
}  // namespace

const Index3& thread_index() { return current->index; }

void syncthreads() { arrive(block_barrier, Wait::BLOCK); }

void fail(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  Thread* t = current;
  char where[160];
  snprintf(where, sizeof where, "block (%u,%u,%u) thread (%u,%u,%u): ", block_index.x, block_index.y, block_index.z,
           t->index.x, t->index.y, t->index.z);
  failure = std::string(where) + buf;
  failed = true;
  emu_switch(&t->sp, scheduler);   // the launch is abandoned: this fiber never resumes
  __builtin_unreachable();
}

void* dynamic_shared() { return shared_base; }

unsigned shared_address(const void* p) {
  const unsigned char* b = (const unsigned char*)p;
  if (b < shared_base || b > shared_base + shared_size) fail("%p is not in the block's dynamic shared memory", p);
  return SHARED_BASE + (unsigned)(b - shared_base);
}

unsigned char* shared_pointer(unsigned address, size_t bytes) {
  if (address < SHARED_BASE || address + bytes > SHARED_BASE + shared_size)
    fail("shared address 0x%x (%zu bytes) is outside the block's dynamic shared memory [0x%x, 0x%zx)", address, bytes, SHARED_BASE,
         SHARED_BASE + shared_size);
  return shared_base + (address - SHARED_BASE);
}

int linear_thread() { return current->linear; }

uint64_t exchange_serial() { return current->exchange; }

void spin() {
  current->waiting = Wait::SPIN;
  suspend();
  current->waiting = Wait::NONE;
}

void progress() { events++; }

unsigned random_below(unsigned n) { return (unsigned)(xorshift() % n); }

long long clock() { return ++ticks; }

void named_barrier(int id, int count, bool wait) {
  if (id < 1 || id > 15) fail("named barrier %d (1-15 here; 0 is __syncthreads)", id);
  if (count <= 0 || count % 32 || count > (int)threads.size())
    fail("named barrier %d with thread count %d: a multiple of 32 up to the block's %zu threads", id, count, threads.size());
  Barrier& b = named[id];
  if (b.arrived > 0 && b.expected != count) fail("named barrier %d used with thread counts %d and %d at once", id, b.expected, count);
  b.expected = count;
  if (wait) {
    arrive(b, Wait::NAMED);
    return;
  }
  events++;
  if (++b.arrived >= b.expected) {
    b.arrived = 0;
    b.generation++;
  }
}

const unsigned char* warp_post(const void* mine, int size, unsigned mask) {
  Warp& w = warps[current->linear / 32];
  if (mask != w.live)
    fail("warp collective with mask %08x while the warp's live lanes are %08x", mask, w.live);
  if (size > SLOT) fail("warp exchange of %d bytes per lane (at most %d)", size, SLOT);
  unsigned char* slots = w.slots[w.barrier.generation & 1];
  memcpy(slots + current_lane * SLOT, mine, size);
  if (w.barrier.arrived == 0) w.exchange = ++exchanges;
  current->exchange = w.exchange;
  arrive(w.barrier, Wait::WARP);
  return slots;
}

void cp_async16(void* dst, const void* src, bool valid) {
  if ((uintptr_t)dst % 16 || (valid && (uintptr_t)src % 16))
    fail("cp.async of 16 bytes from %p to %p: both must be 16-byte aligned", src, dst);
  if (is_device_memory(dst, 16)) fail("cp.async destination %p is global memory, not shared", dst);
  // a GPU faults (or reads a neighbouring buffer); copying from it here would crash the JVM with no message
  if (valid && !is_device_memory(src, 16)) fail("cp.async reads 16 bytes at %p, outside every device allocation", src);
  current->open.push_back({dst, src, valid});
}

void cp_async_commit() {
  current->groups.push_back(std::move(current->open));
  current->open.clear();
}

void cp_async_wait(int pending) {
  while ((int)current->groups.size() > pending) {
    retire(current->groups.front());
    current->groups.pop_front();
  }
}

std::string run_grid(Trampoline k, void** params, Index3 grid, Index3 block, size_t shared) {
  size_t n = (size_t)block.x * block.y * block.z;
  while (stacks.size() < n) {
    char* s = new_stack();
    if (!s) return "out of host memory for fiber stacks";
    stacks.push_back(s);
  }
  threads.assign(n, Thread{});
  warps.assign((n + 31) / 32, Warp{});
  for (size_t i = 0; i < n; i++) {
    threads[i].stack = stacks[i];
    threads[i].linear = (int)i;
    threads[i].index = {(unsigned)(i % block.x), (unsigned)(i / block.x % block.y), (unsigned)(i / ((size_t)block.x * block.y))};
  }
  shared_size = shared;
  shared_bytes.assign(shared + 128, 0);
  shared_base = (unsigned char*)(((uintptr_t)shared_bytes.data() + 127) & ~(uintptr_t)127);
  kernel = k;
  kernel_params = params;
  block_dim = block;
  grid_dim = grid;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        block_index = {x, y, z};
        failed = false;
        failure.clear();
        if (run_block()) continue;
        if (failure.rfind("block", 0) == 0) return failure;
        char where[64];
        snprintf(where, sizeof where, "block (%u,%u,%u): ", x, y, z);
        return where + failure;
      }
  return "";
}
}  // namespace emu
