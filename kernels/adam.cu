// Fused multi-tensor Adam / AdamW step: every parameter tensor of an optimiser step in one launch. fp32 master
// weights and moments, gradient of any float type times gradScale, optional low-precision model copy written in
// the same pass. Same formula and order as CpuBackend.adamStep; double arithmetic (an update is tiny next to the
// weight).
//
// The per-tensor arguments come from a device table the host uploads each step (gradients are fresh tensors, so
// their addresses change), as 64-bit words (CudaBackend.adamTable writes it):
//   words [0, nt]        first block of each tensor: start[0] = 0, start[t + 1] = start[t] + ceil(n_t / chunk);
//                        start[nt] = the grid size. An empty tensor has no blocks (start[t] == start[t + 1]).
//   then nt AdamTensor   n, p, g, m, v, low (null: no copy), g's dtype code, low's dtype code.
#include "common.cuh"

struct AdamTensor {
  long long n;
  float* p;
  const void* g;
  float* m;
  float* v;
  void* low;
  long long tg, tl;
};
static_assert(sizeof(AdamTensor) == 8 * sizeof(long long), "CudaBackend.adamTable writes 8 words per tensor");

struct AdamRange {
  int t;                   // tensor
  long long begin, end;    // its elements [begin, end)
};

__host__ __device__ inline const AdamTensor* adam_tensors(const long long* table, int nt) {
  return reinterpret_cast<const AdamTensor*>(table + nt + 1);
}

// Block b (< start[nt]) of the launch: the last tensor whose first block is <= b (binary search; tensors without
// blocks share their successor's start and are passed over), and the b-th chunk of it counted from that start.
__host__ __device__ inline AdamRange adam_block(const long long* table, int nt, long long chunk, long long b) {
  int lo = 0, hi = nt - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (table[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  long long begin = (b - table[lo]) * chunk, n = adam_tensors(table, nt)[lo].n;
  return {lo, begin, begin + chunk < n ? begin + chunk : n};
}

extern "C" __global__ void adam_step(const long long* table, int nt, long long chunk, double lr, double b1, double b2, double eps,
                                     double wd, int decoupled, double bc1, double bc2, double gradScale) {
  AdamRange r = adam_block(table, nt, chunk, blockIdx.x);
  const AdamTensor T = adam_tensors(table, nt)[r.t];
  int tg = (int)T.tg, tl = (int)T.tl;
  for (long long i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    double w = T.p[i], gi = (double)ld(T.g, tg, i) * gradScale;
    if (wd != 0.0) {
      if (decoupled) w *= 1.0 - lr * wd;
      else gi += wd * w;
    }
    double mi = b1 * T.m[i] + (1.0 - b1) * gi, vi = b2 * T.v[i] + (1.0 - b2) * gi * gi;
    w -= lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + eps);
    T.p[i] = (float)w;
    T.m[i] = (float)mi;
    T.v[i] = (float)vi;
    if (T.low) std_(T.low, tl, i, w);
  }
}
