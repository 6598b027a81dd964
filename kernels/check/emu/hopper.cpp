// The SIMT emulator's Hopper machinery, for kernels/gemm_wgmma.cu on an emulated sm_90 (SIMT_ARCH=90): wgmma, mbarriers
// and TMA bulk tensor copies, as the PTX manual describes them (the operand, accumulator and box layouts come from
// kernels/check/hopper_emulation.h, shared with the host check). Made strict where the kernel's correctness depends on
// the asynchrony:
//  - wgmma reads its operands when issued and again when a wgmma.wait_group retires it, and fails if they differ (a
//    stage refilled while a multiply could still read it); its accumulators change only at that retirement, so a read
//    of them before the wait sees the old values. Warp-uniform descriptors are checked; products summed in double.
//  - mbarriers keep arrival count, transaction bytes and phase (a phase completes when its arrivals are in and its
//    bytes have landed); try_wait.parity is true once the phase of that parity completed. A vain poll yields.
//  - TMA boxes land later, in random order, one per vain poll of any mbarrier, with zero fill outside the tensor and
//    the 128-byte swizzle; a box still in flight when the block ends is an error.
//  - The fences, where they order something visible here. cp.async writes shared memory through the generic proxy,
//    which wgmma and TMA (the async proxy) need not see until a fence.proxy.async orders it: by the writing thread
//    after its copy landed, or by the reading thread after that (tracked per 16-byte chunk). wgmma.fence comes
//    before a thread's first wgmma and between ordinary changes to its accumulators and the next wgmma: a wgmma
//    without one must find them as the last fence or retirement left them (one accumulator array per thread, as the
//    kernel has). A TMA box may signal an mbarrier only once its initialising thread has made the init visible to
//    the async proxy (fence.mbarrier_init, or fence.proxy.async).
#include "simt_runtime.h"

#include "check/hopper_emulation.h"

#include <stdio.h>
#include <stdlib.h>

#include <deque>
#include <map>
#include <vector>

namespace emu {
namespace {
struct MBarrier {
  int expected, pending;
  long long bytes;   // transaction bytes still to land in the current phase (expect_tx adds, complete_tx subtracts)
  unsigned phase;
  int initialiser;
  bool async_visible;   // its initialiser fenced after the init: TMA may signal it
};

struct Box {
  unsigned dst, bar;
  TensorMapImage map;
  int coords[5];
  unsigned short offsets[2];
  int issuer;
};

struct Multiply {
  float* d;
  int n;
  bool bf16, a_kmajor, b_kmajor;
  uint64_t da, db;
  std::vector<double> issued;   // the product as the operands stood at the issue
};

struct Pending {
  std::vector<Multiply> open;                  // issued, not yet committed
  std::deque<std::vector<Multiply>> groups;    // committed, not yet retired
  bool fenced = false;                         // a wgmma.fence since the accumulators were last recorded
  const float* left_at = nullptr;              // the accumulators as the last fence or retirement left them
  std::vector<float> left;
};

struct Written {   // the last generic-proxy write to a 16-byte chunk of shared memory
  int writer;      // -1: none (untouched, or a TMA box wrote it last)
  uint64_t at;
};

std::map<unsigned, MBarrier> barriers;   // by shared address
std::vector<Box> boxes;                   // in flight
std::vector<Pending> pending;             // per thread
std::vector<Written> written;             // per 16-byte chunk of the block's dynamic shared memory
std::vector<uint64_t> fenced_at;          // per thread: when it last issued fence.proxy.async (0: never)
uint64_t now;                             // orders generic writes and proxy fences

Written& chunk_at(unsigned address) { return written[(address - SHARED_BASE) / 16]; }

// A wgmma operand byte must be visible to the async proxy (the header's rule).
void check_visible(unsigned address) {
  const Written& w = chunk_at(address);
  if (w.writer < 0 || fenced_at[w.writer] > w.at || fenced_at[linear_thread()] > w.at) return;
  fail("wgmma reads shared address 0x%x, which thread %d wrote by cp.async with no fence.proxy.async after it (by that thread or "
       "this one): the tensor cores need not see the write", address, w.writer);
}

float half_at(unsigned address, bool bf16, bool issue) {
  if (address % 2) fail("wgmma operand at odd shared address 0x%x", address);
  uint16_t h;
  memcpy(&h, shared_pointer(address, 2), 2);
  if (issue) check_visible(address);
  return half_to_float(h, bf16);
}

// This thread's share of D = A B: d[j][e] for its rows and columns (wgmma_d_at), k over the 16-wide slice. issue:
// read by the wgmma as it is issued (the operands must then be visible to the async proxy).
std::vector<double> product(const Multiply& m, bool issue) {
  const int t = linear_thread() % 128;
  float a[2][16], b[64][16];   // this thread's two rows of A, its n / 4 columns of B
  for (int h = 0; h < 2; h++) {
    int row, col;
    wgmma_d_at(t, 0, 2 * h, row, col);
    for (int k = 0; k < 16; k++) a[h][k] = half_at(wgmma_operand_byte(m.da, m.a_kmajor, row, k), m.bf16, issue);
  }
  for (int j = 0; j < m.n / 8; j++)
    for (int e = 0; e < 2; e++) {
      int row, col;
      wgmma_d_at(t, j, e, row, col);
      for (int k = 0; k < 16; k++) b[2 * j + e][k] = half_at(wgmma_operand_byte(m.db, m.b_kmajor, col, k), m.bf16, issue);
    }
  std::vector<double> p(m.n / 2);
  for (int j = 0; j < m.n / 8; j++)
    for (int e = 0; e < 4; e++) {
      double s = 0;
      for (int k = 0; k < 16; k++) s += (double)a[e / 2][k] * b[2 * j + e % 2][k];
      p[4 * j + e] = s;
    }
  return p;
}

MBarrier& barrier_at(unsigned bar, const char* what) {
  auto it = barriers.find(bar);
  if (it == barriers.end()) fail("%s on shared address 0x%x, which holds no initialised mbarrier", what, bar);
  return it->second;
}

void complete_if_done(MBarrier& b) {
  if (b.pending == 0 && b.bytes == 0) {
    b.phase++;
    b.pending = b.expected;
    progress();
  }
}

uint16_t global_half(const TensorMapImage& m, unsigned long long offset, const Box& box) {
  const void* p = (const void*)(m.address + offset);
  if (!is_device_memory(p, 2))
    fail("a TMA box (issued by thread %d) reads %p, outside every allocation: the tensor map's dims and strides overrun its memory", box.issuer, p);
  uint16_t h;
  memcpy(&h, p, 2);
  return h;
}

// Performs a box copy into shared memory and completes its bytes on its mbarrier.
void land(const Box& box) {
  const TensorMapImage& m = box.map;
  int bytes = 0;
  if (!m.im2col) {
    int x[5] = {}, box_dims[5];
    long long count = 1;
    for (int i = 0; i < m.rank; i++) { box_dims[i] = m.box[i]; count *= m.box[i]; }
    for (long long e = 0; e < count; e++) {
      long long r = e;
      bool inside = true;
      unsigned long long offset = 0;
      for (int i = 0; i < m.rank; i++) {
        x[i] = (int)(r % box_dims[i]);
        r /= box_dims[i];
        const long long g = (long long)box.coords[i] + x[i];
        if (g < 0 || g >= (long long)m.dims[i]) inside = false;
        else offset += i == 0 ? g * m.element_size : g * m.strides[i - 1];
      }
      const uint16_t v = inside ? global_half(m, offset, box) : 0;
      const unsigned at = tma_box_byte(box.dst, box_dims, m.rank, x, 2);
      memcpy(shared_pointer(at, 2), &v, 2);
      chunk_at(at).writer = -1;
    }
    bytes = (int)(count * m.element_size);
  } else {
    const Im2colWindow win{(int)m.dims[1], (int)m.dims[2], (int)m.dims[3], m.lower[0], m.lower[1], m.upper[0], m.upper[1],
                           m.element_strides[1], m.element_strides[2]};
    long long first;
    if (!im2col_first(win, box.coords[1], box.coords[2], box.coords[3], first))
      fail("an im2col box (issued by thread %d) starts at (w %d, h %d), not a position of the pixel window (from (%d, %d), steps %d, %d)",
           box.issuer, box.coords[1], box.coords[2], win.lower_w, win.lower_h, win.step_w, win.step_h);
    const int shape[2] = {m.channels, m.pixels};
    for (int j = 0; j < m.pixels; j++) {
      int x, y;
      long long image;
      const bool inside = im2col_pixel(win, first, j, box.offsets[0], box.offsets[1], x, y, image);
      for (int e = 0; e < m.channels; e++) {
        const long long c = (long long)box.coords[0] + e;
        const bool valid = inside && c >= 0 && c < (long long)m.dims[0];
        const uint16_t v = valid ? global_half(m, c * m.element_size + x * m.strides[0] + y * m.strides[1] + image * m.strides[2], box) : 0;
        const int element[2] = {e, j};
        const unsigned at = tma_box_byte(box.dst, shape, 2, element, 2);
        memcpy(shared_pointer(at, 2), &v, 2);
        chunk_at(at).writer = -1;
      }
    }
    bytes = m.channels * m.pixels * m.element_size;
  }
  tally(m.im2col ? "TMA boxes landed (im2col)" : "TMA boxes landed (tiled)");
  MBarrier& b = barrier_at(box.bar, "a TMA box's complete_tx");
  b.bytes -= bytes;
  complete_if_done(b);
}
}  // namespace

void hopper_block_begin(int threads, size_t shared_bytes) {
  barriers.clear();
  boxes.clear();
  pending.assign(threads, Pending{});
  written.assign((shared_bytes + 15) / 16, Written{-1, 0});
  fenced_at.assign(threads, 0);
  now = 0;
}

void generic_shared_write(unsigned address, int bytes) {
  now++;
  for (unsigned a = address; a < address + bytes; a += 16) chunk_at(a) = Written{linear_thread(), now};
}

void fence_proxy_async() {
  fenced_at[linear_thread()] = ++now;
  mbar_init_fence();   // the CUDA guide's TMA example makes an mbarrier's init visible this way
}

void wgmma_fence() { pending[linear_thread()].fenced = true; }

void mbar_init_fence() {
  for (auto& [address, b] : barriers)
    if (b.initialiser == linear_thread()) b.async_visible = true;
}

std::string hopper_block_end() {
  if (boxes.empty()) return "";
  char buf[160];
  snprintf(buf, sizeof buf, "%zu TMA box(es) still in flight when the block ended (no thread waited for their mbarrier)", boxes.size());
  return buf;
}

void hopper_thread_exit() {
  Pending& p = pending[linear_thread()];
  if (!p.open.empty() || !p.groups.empty())
    fail("exits with %zu wgmma group(s) and %zu uncommitted wgmma not waited for", p.groups.size(), p.open.size());
}

void wgmma(float* d, int n, bool bf16, bool a_kmajor, bool b_kmajor, uint64_t da, uint64_t db) {
  if (wgmma_swizzle_mode(da) != 1 || wgmma_swizzle_mode(db) != 1)
    fail("wgmma descriptors with swizzle modes %d and %d (the kernel's layouts are 128-byte swizzled: 1)", wgmma_swizzle_mode(da),
         wgmma_swizzle_mode(db));
  // .sync.aligned: the whole warp issues it together, with the same descriptors
  const uint64_t mine[2] = {da, db};
  const unsigned char* posted = warp_post(mine, sizeof mine, 0xffffffffu);
  for (int l = 0; l < 32; l++)
    if (memcmp(posted + l * WARP_SLOT, mine, sizeof mine))
      fail("wgmma descriptors differ across the warp (lane %d: %016llx %016llx)", l, (unsigned long long)da, (unsigned long long)db);
  Pending& p = pending[linear_thread()];
  if (p.fenced) {
    p.fenced = false;
    p.left.assign(d, d + n / 2);
    p.left_at = d;
  } else if (!p.left_at) {
    fail("wgmma with no wgmma.fence before the thread's first one");
  } else if (p.left_at != d || p.left.size() != (size_t)n / 2 || memcmp(p.left.data(), d, n / 2 * sizeof(float))) {
    fail("wgmma on accumulators that other instructions changed since the last wgmma.fence or retirement, with no wgmma.fence between");
  }
  Multiply m{d, n, bf16, a_kmajor, b_kmajor, da, db, {}};
  m.issued = product(m, true);
  p.open.push_back(std::move(m));
}

void wgmma_commit() {
  Pending& p = pending[linear_thread()];
  p.groups.push_back(std::move(p.open));
  p.open.clear();
}

void wgmma_wait(int keep) {
  Pending& p = pending[linear_thread()];
  while ((int)p.groups.size() > keep) {
    for (Multiply& m : p.groups.front()) {
      const std::vector<double> again = product(m, false);   // compared as bits: a NaN operand is still the same operand
      if (memcmp(again.data(), m.issued.data(), again.size() * sizeof(double)))
        fail("the shared memory an in-flight wgmma reads (descriptors %016llx %016llx) changed before wgmma.wait_group retired it",
             (unsigned long long)m.da, (unsigned long long)m.db);
      for (int i = 0; i < m.n / 2; i++) m.d[i] = (float)((double)m.d[i] + m.issued[i]);
      p.left.assign(m.d, m.d + m.n / 2);
      p.left_at = m.d;
    }
    p.groups.pop_front();
  }
}

void mbar_init(unsigned bar, int count) {
  if (bar % 8) fail("mbarrier at shared address 0x%x: not 8-byte aligned", bar);
  shared_pointer(bar, 8);
  if (count < 1 || count > (1 << 20) - 1) fail("mbarrier.init with count %d", count);
  barriers[bar] = MBarrier{count, count, 0, 0, linear_thread(), false};
  progress();
}

void mbar_arrive(unsigned bar, int expect_bytes) {
  MBarrier& b = barrier_at(bar, "mbarrier.arrive");
  b.bytes += expect_bytes;
  if (--b.pending < 0) fail("mbarrier at 0x%x: more arrivals than its count %d in one phase", bar, b.expected);
  progress();
  complete_if_done(b);
}

void mbar_expect(unsigned bar, int bytes) {
  barrier_at(bar, "mbarrier.expect_tx").bytes += bytes;
}

bool mbar_try_wait(unsigned bar, int parity) {
  MBarrier& b = barrier_at(bar, "mbarrier.try_wait.parity");
  if ((b.phase & 1) != (unsigned)parity) return true;
  if (!boxes.empty()) {   // a vain poll lets one copy in flight land, a random one
    const size_t i = random_below((unsigned)boxes.size());
    const Box box = boxes[i];
    boxes.erase(boxes.begin() + (long)i);
    land(box);
    progress();
  } else {
    spin();
  }
  return (barrier_at(bar, "mbarrier.try_wait.parity").phase & 1) != (unsigned)parity;
}

void tma_box(unsigned dst, const void* map, int rank, const int* coords, const unsigned short* offsets, unsigned bar) {
  Box box{};
  memcpy(&box.map, map, sizeof box.map);
  const TensorMapImage& m = box.map;
  if (m.magic != TensorMapImage::MAGIC) fail("cp.async.bulk.tensor with a tensor map the driver did not encode");
  if (m.rank != rank || (bool)m.im2col != (offsets != nullptr))
    fail("cp.async.bulk.tensor.%dd.%s on a %s tensor map of rank %d", rank, offsets ? "im2col" : "tile", m.im2col ? "im2col" : "tiled", m.rank);
  unsigned long long last = m.dims[0] - 1;   // the tensor's extent: its last element's end, in elements
  for (int i = 1; i < m.rank; i++) last += (m.dims[i] - 1) * (m.strides[i - 1] / m.element_size);
  if ((m.word1 & SMALL_TENSOR_BIT) && (last + 1) * m.element_size < SMALL_TENSOR_BYTES)
    fail("a TMA box through the tensor map of a %llu-byte tensor whose bit 21 of word 1 is still set: drivers up to 13.1 need it "
         "cleared under 128 KiB (TensorMaps.smallTensorWorkaround)", (last + 1) * m.element_size);
  if (m.swizzle == 3 && dst % 1024) fail("a 128-byte-swizzled TMA box into shared address 0x%x: not 1024-byte aligned", dst);
  if (dst % 128) fail("a TMA box into shared address 0x%x: not 128-byte aligned", dst);
  if (!barrier_at(bar, "cp.async.bulk.tensor's mbarrier").async_visible)
    fail("a TMA box signals the mbarrier at 0x%x, whose init thread %d did not make visible to the async proxy (no fence.mbarrier_init "
         "or fence.proxy.async after mbarrier.init)", bar, barrier_at(bar, "").initialiser);
  box.dst = dst;
  box.bar = bar;
  for (int i = 0; i < rank; i++) box.coords[i] = coords[i];
  if (offsets) { box.offsets[0] = offsets[0]; box.offsets[1] = offsets[1]; }
  box.issuer = linear_thread();
  boxes.push_back(box);
}
}  // namespace emu
