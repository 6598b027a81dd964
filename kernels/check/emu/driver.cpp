// The SIMT emulator's stand-in for libcuda.so.1: the driver API calls the engine makes through JCuda (the exported
// names are the ones libJCudaDriver links against, and the tensor-map encoders the engine's JNI shim looks up),
// answered on the host. One emulated device: an "sm_80" with 108 multiprocessors, or with SIMT_ARCH=90 an "sm_90"
// with 132 (and the Hopper machinery of hopper.cpp for gemm_wgmma.cu); device memory is host memory between guard pages; every stream runs its work at once, in
// order, except while it is being captured into a graph, which records launches and memsets for replay. Checks
// that a real driver makes and the engine must pass are made here too: launch limits, the dynamic shared memory
// opt-in, fatbins without code for the emulated architecture, the tensor-map encoders' argument rules, copies outside an allocation, and the stream-capture rules for unsafe calls
// (cuMemAlloc on a thread that is capturing fails unless it switched to relaxed mode). Kernel faults are printed
// to stderr ("[simt] ...") and returned as CUDA_ERROR_LAUNCH_FAILED; unlike a real context, the next call works.
#include "simt_runtime.h"

#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {
enum : int {
  SUCCESS = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_IMAGE = 200, INVALID_CONTEXT = 201,
  NO_BINARY_FOR_GPU = 209, INVALID_HANDLE = 400, NOT_FOUND = 500, NOT_READY = 600, LAUNCH_FAILED = 719,
  NOT_SUPPORTED = 801, CAPTURE_UNSUPPORTED = 900, CAPTURE_INVALIDATED = 901, CAPTURE_WRONG_THREAD = 908,
};
enum : int { MODE_GLOBAL = 0, MODE_THREAD_LOCAL = 1, MODE_RELAXED = 2 };
int emulated_arch() {
  const char* e = getenv("SIMT_ARCH");
  if (!e || !strcmp(e, "80")) return 80;
  if (!strcmp(e, "90")) return 90;
  fprintf(stderr, "[simt] SIMT_ARCH=%s: not 80 or 90; emulating sm_80\n", e);
  return 80;
}
const int ARCH = emulated_arch();
const int MULTIPROCESSORS = ARCH == 90 ? 132 : 108;
constexpr size_t STATIC_SHARED = 48 << 10;
const size_t MAX_SHARED_OPTIN = ARCH == 90 ? 227 << 10 : 163 << 10;
const char* const NAME = ARCH == 90 ? "SIMT emulator (CPU) sm_90" : "SIMT emulator (CPU) sm_80";

struct Function {
  std::string name;
  emu::Trampoline call;
  std::vector<unsigned> sizes;
  size_t shared_granted = STATIC_SHARED;
};

std::map<std::string, Function>& registry() {
  static std::map<std::string, Function> r;
  return r;
}

struct Node {
  Function* kernel = nullptr;   // null: a memset
  emu::Index3 grid{}, block{};
  size_t shared = 0;
  std::vector<std::vector<unsigned char>> args;
  unsigned long long ptr = 0;
  unsigned char value = 0;
  size_t bytes = 0;
};
struct Graph { std::vector<Node> nodes; };
struct Capture {
  Graph* graph;
  int mode;
  std::thread::id owner;
  bool invalid = false;
};
struct Stream { Capture* capture = nullptr; };
struct Event { double ms = 0; bool recorded = false, timing = true; };
struct Module { int dummy; };
struct Allocation { char* map; size_t mapped, size; };

std::recursive_mutex lock;
std::map<unsigned long long, Allocation> allocations;   // by start address
size_t allocated;
std::vector<Capture*> captures;
thread_local int interaction = MODE_GLOBAL;
Stream legacy;

double now_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

Stream* stream_of(void* s) { return s == nullptr || (uintptr_t)s <= 2 ? &legacy : (Stream*)s; }

// The unsafe-call rule of stream capture: prohibited when this thread captures (not relaxed), or, in the global
// interaction mode, when another thread captures in global mode. The offending capture is invalidated.
int unsafe_call() {
  if (interaction == MODE_RELAXED) return SUCCESS;
  for (Capture* c : captures) {
    bool mine = c->owner == std::this_thread::get_id();
    if ((mine && c->mode != MODE_RELAXED) || (!mine && interaction == MODE_GLOBAL && c->mode == MODE_GLOBAL)) {
      c->invalid = true;
      return CAPTURE_UNSUPPORTED;
    }
  }
  return SUCCESS;
}

bool in_allocation(unsigned long long p, size_t n) {
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second.size;
}

// SIMT_STATS=1: at exit, how often each counted thing happened in this process (emu::tally: kernel launches, TMA
// boxes), so a test's log shows which paths it exercised.
std::map<std::string, long> tallies;
const bool STATS = [] {
  const char* e = getenv("SIMT_STATS");
  const bool on = e && *e && strcmp(e, "0");
  if (on) atexit([] { for (auto& [what, count] : tallies) fprintf(stderr, "[simt] %8ld x %s\n", count, what.c_str()); });
  return on;
}();

int run(const Node& n) {
  if (!n.kernel) {
    memset((void*)n.ptr, n.value, n.bytes);
    return SUCCESS;
  }
  emu::tally("launched " + n.kernel->name);
  std::vector<void*> params;
  for (auto& a : n.args) params.push_back((void*)a.data());
  std::string err = emu::run_grid(n.kernel->call, params.data(), n.grid, n.block, n.shared);
  if (err.empty()) return SUCCESS;
  fprintf(stderr, "[simt] kernel %s (grid %u x %u x %u, block %u x %u x %u, %zu B dynamic shared): %s\n",
          n.kernel->name.c_str(), n.grid.x, n.grid.y, n.grid.z, n.block.x, n.block.y, n.block.z, n.shared, err.c_str());
  return LAUNCH_FAILED;
}

int submit(Stream* s, Node&& n) {
  if (s->capture) {
    s->capture->graph->nodes.push_back(std::move(n));
    return SUCCESS;
  }
  return run(n);
}

// Whether the fatbin holds code the emulated device runs: a cubin of its major version up to its own (sm_90a's
// cubin says 90), or PTX for its architecture or older.
int check_fatbin(const void* image) {
  const unsigned char* b = (const unsigned char*)image;
  unsigned magic;
  unsigned short header;
  unsigned long long size;
  memcpy(&magic, b, 4);
  if (magic != 0xBA55ED50u) return INVALID_IMAGE;
  memcpy(&header, b + 6, 2);
  memcpy(&size, b + 8, 8);
  for (size_t off = header; off < header + size;) {
    unsigned short kind;
    unsigned entry_header, arch;
    unsigned long long padded;
    memcpy(&kind, b + off, 2);
    memcpy(&entry_header, b + off + 4, 4);
    memcpy(&padded, b + off + 8, 8);
    memcpy(&arch, b + off + 28, 4);
    if ((kind == 2 && arch / 10 == ARCH / 10 && arch <= (unsigned)ARCH) || (kind == 1 && arch <= (unsigned)ARCH)) return SUCCESS;
    off += entry_header + padded;
  }
  return NO_BINARY_FOR_GPU;
}
}  // namespace

bool emu::is_device_memory(const void* p, size_t n) { return in_allocation((unsigned long long)p, n); }

void emu::tally(const std::string& what) {
  if (STATS) tallies[what]++;
}

emu::Registered::Registered(const char* name, Trampoline call, const unsigned* sizes, int count) {
  auto [it, fresh] = registry().emplace(name, Function{name, call, std::vector<unsigned>(sizes, sizes + count)});
  if (!fresh) {
    fprintf(stderr, "[simt] kernel %s is defined twice\n", name);
    abort();
  }
}

#define API extern "C" __attribute__((visibility("default"))) int
#define LOCKED std::lock_guard<std::recursive_mutex> guard(lock)

API cuInit(unsigned) { return SUCCESS; }
API cuDriverGetVersion(int* v) { *v = 13000; return SUCCESS; }
API cuDeviceGetCount(int* n) { *n = 1; return SUCCESS; }
API cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return INVALID_VALUE; *d = 0; return SUCCESS; }
API cuDeviceGetName(char* name, int len, int) { snprintf(name, len, "%s", NAME); return SUCCESS; }

API cuDeviceGetAttribute(int* v, int attribute, int) {
  switch (attribute) {
    case 75: *v = ARCH / 10; return SUCCESS;         // compute capability major
    case 76: *v = ARCH % 10; return SUCCESS;         // minor
    case 16: *v = MULTIPROCESSORS; return SUCCESS;
    case 97: *v = (int)MAX_SHARED_OPTIN; return SUCCESS;   // max shared memory per block, opt-in
    case 8: *v = (int)STATIC_SHARED; return SUCCESS;        // max shared memory per block
    case 1: *v = 1024; return SUCCESS;               // max threads per block
    case 10: *v = 32; return SUCCESS;                // warp size
    default:
      fprintf(stderr, "[simt] cuDeviceGetAttribute(%d) is not emulated\n", attribute);
      return INVALID_VALUE;
  }
}

// SIMT_FAIL=<driver function>: that function fails with CUDA_ERROR_DEVICE_UNAVAILABLE (what an exclusive-process GPU
// in use says), so tests can see how the backend's start-up handles a failing driver call
bool failing(const char* fn) {
  static const char* f = getenv("SIMT_FAIL");
  return f && !strcmp(f, fn);
}
const int DEVICES_UNAVAILABLE = 46;

API cuDevicePrimaryCtxRetain(void** ctx, int) { static int context; *ctx = &context; return SUCCESS; }
API cuDevicePrimaryCtxRelease_v2(int) { return SUCCESS; }
API cuCtxSetCurrent(void*) { return SUCCESS; }

API cuStreamCreate(void** s, unsigned) {
  if (failing("cuStreamCreate")) return DEVICES_UNAVAILABLE;
  LOCKED;
  *s = new Stream();
  return SUCCESS;
}
API cuStreamDestroy_v2(void* s) {
  if (!s) return INVALID_HANDLE;
  LOCKED;
  delete (Stream*)s;
  return SUCCESS;
}
API cuStreamSynchronize(void* s) {
  LOCKED;
  Stream* st = stream_of(s);
  if (st->capture) { st->capture->invalid = true; return CAPTURE_UNSUPPORTED; }
  return SUCCESS;
}
API cuStreamWaitEvent(void*, void*, unsigned) { return SUCCESS; }

API cuEventCreate(void** e, unsigned flags) { LOCKED; Event* ev = new Event(); ev->timing = !(flags & 2); *e = ev; return SUCCESS; }
API cuEventDestroy_v2(void* e) { LOCKED; delete (Event*)e; return SUCCESS; }
API cuEventRecord(void* e, void*) { LOCKED; ((Event*)e)->ms = now_ms(); ((Event*)e)->recorded = true; return SUCCESS; }
API cuEventSynchronize(void*) { return SUCCESS; }   // work runs when submitted
API cuEventElapsedTime(float* ms, void* a, void* b) {
  Event *s = (Event*)a, *e = (Event*)b;
  if (!s->timing || !e->timing) return INVALID_HANDLE;
  if (!s->recorded || !e->recorded) return NOT_READY;
  *ms = (float)(e->ms - s->ms);
  return SUCCESS;
}

API cuModuleLoadData(void** m, const void* image) {
  int rc = check_fatbin(image);
  if (rc != SUCCESS) return rc;
  static Module module;
  *m = &module;
  return SUCCESS;
}

API cuModuleGetFunction(void** f, void*, const char* name) {
  LOCKED;
  auto it = registry().find(name);
  if (it == registry().end()) return NOT_FOUND;
  *f = &it->second;
  return SUCCESS;
}

API cuFuncSetAttribute(void* f, int attribute, int value) {
  if (attribute != 8) return INVALID_VALUE;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  if (value < 0 || (size_t)value > MAX_SHARED_OPTIN) return INVALID_VALUE;
  ((Function*)f)->shared_granted = value;
  return SUCCESS;
}

API cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void* stream, void** params, void** extra) {
  LOCKED;
  Function* fn = (Function*)f;
  if (!fn) return INVALID_HANDLE;
  if (extra) return NOT_SUPPORTED;
  if (!gx || !gy || !gz || gx > 0x7fffffffu || gy > 65535 || gz > 65535) return INVALID_VALUE;
  if (!bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 || (size_t)bx * by * bz > 1024) return INVALID_VALUE;
  if (shared > fn->shared_granted) {
    fprintf(stderr, "[simt] kernel %s: %u B of dynamic shared memory, %zu granted\n", fn->name.c_str(), shared, fn->shared_granted);
    return INVALID_VALUE;
  }
  if (!params && !fn->sizes.empty()) return INVALID_VALUE;
  Node n;
  n.kernel = fn;
  n.grid = {gx, gy, gz};
  n.block = {bx, by, bz};
  n.shared = shared;
  for (size_t i = 0; i < fn->sizes.size(); i++) {
    const unsigned char* p = (const unsigned char*)params[i];
    n.args.emplace_back(p, p + fn->sizes[i]);
  }
  return submit(stream_of(stream), std::move(n));
}

API cuMemAlloc_v2(unsigned long long* p, size_t bytes) {
  LOCKED;
  if (bytes == 0) return INVALID_VALUE;
  if (int rc = unsafe_call()) return rc;
  size_t page = 4096, rounded = (bytes + 255) / 256 * 256, body = (rounded + page - 1) / page * page;
  size_t mapped = body + 2 * page;   // a guard page on each side
  char* m = (char*)mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return OUT_OF_MEMORY;
  mprotect(m, page, PROT_NONE);
  mprotect(m + page + body, page, PROT_NONE);
  char* start = m + page + body - rounded;   // the end touches the guard page
  allocations[(unsigned long long)start] = {m, mapped, bytes};
  allocated += bytes;
  *p = (unsigned long long)start;
  return SUCCESS;
}

API cuMemFree_v2(unsigned long long p) {
  LOCKED;
  auto it = allocations.find(p);
  if (it == allocations.end()) return INVALID_VALUE;
  if (int rc = unsafe_call()) return rc;
  munmap(it->second.map, it->second.mapped);
  allocated -= it->second.size;
  allocations.erase(it);
  return SUCCESS;
}

API cuMemAllocHost_v2(void** p, size_t bytes) {
  LOCKED;
  if (int rc = unsafe_call()) return rc;
  *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  return *p ? SUCCESS : OUT_OF_MEMORY;
}
API cuMemFreeHost(void* p) { LOCKED; if (int rc = unsafe_call()) return rc; free(p); return SUCCESS; }

API cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  LOCKED;
  size_t t = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGE_SIZE) / 2;
  *total = t;
  *free_bytes = allocated < t ? t - allocated : 0;
  return SUCCESS;
}

API cuMemcpyHtoDAsync_v2(unsigned long long dst, const void* src, size_t n, void* stream) {
  LOCKED;
  if (stream_of(stream)->capture) return CAPTURE_UNSUPPORTED;   // the engine never copies inside a capture
  if (!in_allocation(dst, n)) return INVALID_VALUE;
  memcpy((void*)dst, src, n);
  return SUCCESS;
}

API cuMemcpyDtoHAsync_v2(void* dst, unsigned long long src, size_t n, void* stream) {
  LOCKED;
  if (stream_of(stream)->capture) return CAPTURE_UNSUPPORTED;
  if (!in_allocation(src, n)) return INVALID_VALUE;
  memcpy(dst, (const void*)src, n);
  return SUCCESS;
}

API cuMemsetD8Async(unsigned long long dst, unsigned char value, size_t n, void* stream) {
  LOCKED;
  if (!in_allocation(dst, n)) return INVALID_VALUE;
  Node node;
  node.ptr = dst;
  node.value = value;
  node.bytes = n;
  return submit(stream_of(stream), std::move(node));
}

API cuThreadExchangeStreamCaptureMode(int* mode) {
  int previous = interaction;
  interaction = *mode;
  *mode = previous;
  return SUCCESS;
}

API cuStreamBeginCapture_v2(void* s, int mode) {
  LOCKED;
  Stream* st = stream_of(s);
  if (st == &legacy) return NOT_SUPPORTED;
  if (st->capture) return INVALID_VALUE;
  st->capture = new Capture{new Graph(), mode, std::this_thread::get_id()};
  captures.push_back(st->capture);
  return SUCCESS;
}

API cuStreamEndCapture(void* s, void** graph) {
  LOCKED;
  Stream* st = stream_of(s);
  Capture* c = st->capture;
  if (!c) return INVALID_VALUE;
  if (c->owner != std::this_thread::get_id() && c->mode != MODE_RELAXED) return CAPTURE_WRONG_THREAD;
  st->capture = nullptr;
  captures.erase(std::find(captures.begin(), captures.end(), c));
  std::unique_ptr<Capture> done(c);
  if (c->invalid) {
    delete c->graph;
    *graph = nullptr;
    return CAPTURE_INVALIDATED;
  }
  *graph = c->graph;
  return SUCCESS;
}

API cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
  LOCKED;
  *exec = new Graph(*(Graph*)graph);
  return SUCCESS;
}

API cuGraphLaunch(void* exec, void* stream) {
  LOCKED;
  Stream* st = stream_of(stream);
  if (st->capture) return NOT_SUPPORTED;
  for (const Node& n : ((Graph*)exec)->nodes)
    if (int rc = run(n)) return rc;
  return SUCCESS;
}

API cuGraphDestroy(void* g) { LOCKED; delete (Graph*)g; return SUCCESS; }
API cuGraphExecDestroy(void* g) { LOCKED; delete (Graph*)g; return SUCCESS; }

// Tensor maps (cuTensorMapEncodeTiled / Im2col, for gemm_wgmma.cu's TMA copies): the arguments checked as the driver
// documents them, then stored as hopper.cpp reads them (emu::TensorMapImage) in the map's 128 bytes. 16-bit element
// types only (the engine's), no interleave; swizzle none or 128B.
namespace {
enum : int { DATA_FLOAT16 = 6, DATA_BFLOAT16 = 9, SWIZZLE_NONE = 0, SWIZZLE_128B = 3 };

int check_map(void* map, int dtype, unsigned rank, void* address, const unsigned long long* dims, const unsigned long long* strides,
              int interleave, int swizzle, unsigned inner_bytes, emu::TensorMapImage& m) {
  if ((uintptr_t)map % 64 || (dtype != DATA_FLOAT16 && dtype != DATA_BFLOAT16) || interleave != 0) return INVALID_VALUE;
  if (swizzle != SWIZZLE_NONE && swizzle != SWIZZLE_128B) return NOT_SUPPORTED;
  if (rank < 1 || rank > 5 || (uintptr_t)address % 16) return INVALID_VALUE;
  if (inner_bytes % 16 || (swizzle == SWIZZLE_128B && inner_bytes > 128)) return INVALID_VALUE;
  memset(&m, 0, sizeof m);
  m.magic = emu::TensorMapImage::MAGIC;
  m.word1 = emu::SMALL_TENSOR_BIT;   // as a driver <= 13.1 is taken to leave it (hopper.cpp checks it was cleared)
  m.rank = (uint8_t)rank;
  m.element_size = 2;
  m.swizzle = (uint8_t)swizzle;
  m.address = (uint64_t)(uintptr_t)address;
  for (unsigned i = 0; i < rank; i++) {
    if (dims[i] == 0 || dims[i] > (1ull << 32)) return INVALID_VALUE;
    m.dims[i] = dims[i];
    if (i + 1 < rank) {
      if (strides[i] % 16 || strides[i] >= (1ull << 40)) return INVALID_VALUE;
      m.strides[i] = strides[i];
    }
  }
  return SUCCESS;
}
}  // namespace

API cuTensorMapEncodeTiled(void* map, int dtype, unsigned rank, void* address, const unsigned long long* dims,
                           const unsigned long long* strides, const unsigned* box, const unsigned* element_strides, int interleave,
                           int swizzle, int, int) {
  emu::TensorMapImage m;
  if (rank < 1 || rank > 5) return INVALID_VALUE;
  if (int rc = check_map(map, dtype, rank, address, dims, strides, interleave, swizzle, box[0] * 2, m)) return rc;
  for (unsigned i = 0; i < rank; i++) {
    if (box[i] < 1 || box[i] > 256 || element_strides[i] < 1 || element_strides[i] > 8) return INVALID_VALUE;
    if (element_strides[i] != 1) return NOT_SUPPORTED;   // the engine's boxes are dense; not emulated
    m.box[i] = (uint16_t)box[i];
    m.element_strides[i] = 1;
  }
  memset(map, 0, 128);
  memcpy(map, &m, sizeof m);
  return SUCCESS;
}

API cuTensorMapEncodeIm2col(void* map, int dtype, unsigned rank, void* address, const unsigned long long* dims,
                            const unsigned long long* strides, const int* lower, const int* upper, unsigned channels, unsigned pixels,
                            const unsigned* element_strides, int interleave, int swizzle, int, int) {
  emu::TensorMapImage m;
  if (rank < 3 || rank > 5) return INVALID_VALUE;
  if (rank != 4) return NOT_SUPPORTED;   // the engine's maps are (C, W, H, N); others not emulated
  if (channels < 1 || channels > 256 || pixels < 1 || pixels > 1024) return INVALID_VALUE;
  if (int rc = check_map(map, dtype, rank, address, dims, strides, interleave, swizzle, channels * 2, m)) return rc;
  const int range = rank == 3 ? 1 << 15 : rank == 4 ? 1 << 7 : 1 << 4;   // the corners' signed range per rank
  for (unsigned i = 0; i < rank - 2; i++) {
    if (lower[i] < -range || lower[i] >= range || upper[i] < -range || upper[i] >= range) return INVALID_VALUE;
    m.lower[i] = (int16_t)lower[i];
    m.upper[i] = (int16_t)upper[i];
  }
  for (unsigned i = 0; i < rank; i++) {
    if (element_strides[i] < 1 || element_strides[i] > 8) return INVALID_VALUE;
    m.element_strides[i] = (uint8_t)element_strides[i];
  }
  if (element_strides[0] != 1 || element_strides[rank - 1] != 1) return NOT_SUPPORTED;   // strides over channels or images: not emulated
  m.im2col = 1;
  m.channels = (uint16_t)channels;
  m.pixels = (uint16_t)pixels;
  memset(map, 0, 128);
  memcpy(map, &m, sizeof m);
  return SUCCESS;
}
