// Fused attention, flash style: online softmax over key tiles staged in shared memory, the (Bq, heads, Lq)
// log-sum-exp saved for the backward, no score matrix in device memory. q (Bq, Lq, C), k/v (Bk, Lk, C),
// contiguous, heads = contiguous C/heads slices of d <= 512 channels. Query batch bi reads key/value batch
// bi / (Bq / Bk): all-to-first attention passes frame 0's K/V once per video, never replicated.
// One warp per query row (lane owns channels lane, lane+32, ...: PER per lane, in registers), four rows per block;
// grid (Bq*heads, rows/4) (x has the 2^31 limit, y only 65535). fp32 compute. Each kernel comes in two widths:
// d <= 256 (PER 8), and "_wide" d <= 512 (PER 16: the VAE mid block's single 512-channel head), so the common
// heads do not pay the wide one's registers and idle unrolled steps.
// Not tensor-core code: the simple correct version, the baseline for a wgmma/mma.sync rewrite.
#include "common.cuh"

#define WARPS 4

// Stages rows row0 .. row0+nt-1 of one head's d channels (from channel col) of two (rows, C) tensors into shared
// memory as fp32, nt x d each: the key/value (or query/gradient) tile every kernel below walks.
__device__ void stage_rows(const void* a, int ta, const void* b, int tb, long long row0, int nt, int c, int col, int d,
                           float* as, float* bs) {
  for (int e = threadIdx.x; e < nt * d; e += blockDim.x) {
    const long long src = (row0 + e / d) * c + col + e % d;
    as[e] = ld(a, ta, src);
    bs[e] = ld(b, tb, src);
  }
}

template <int PER>
__device__ __forceinline__ void attention_forward_impl(const void* q, const void* k, const void* v, int t, int bq, int lq, int bk, int lk,
                                                       int c, int heads, float scale, int tile, void* out, float* lse) {
  extern __shared__ float sm[];
  const int d = c / heads, bi = blockIdx.x / heads, h = blockIdx.x % heads, bj = bi / (bq / bk);
  const int lane = threadIdx.x & 31, i = blockIdx.y * WARPS + (threadIdx.x >> 5);
  const bool active = i < lq;
  float* ks = sm;
  float* vs = sm + tile * d;
  float qv[PER], acc[PER];
#pragma unroll
  for (int p = 0; p < PER; p++) {
    int e = lane + 32 * p;
    qv[p] = (active && e < d) ? ld(q, t, ((long long)bi * lq + i) * c + h * d + e) * scale : 0.f;
    acc[p] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  for (int j0 = 0; j0 < lk; j0 += tile) {
    const int nt = min(tile, lk - j0);
    stage_rows(k, t, v, t, (long long)bj * lk + j0, nt, c, h * d, d, ks, vs);
    __syncthreads();
    if (active) {
      for (int jj = 0; jj < nt; jj++) {
        float part = 0.f;
#pragma unroll
        for (int p = 0; p < PER; p++) if (lane + 32 * p < d) part += qv[p] * ks[jj * d + lane + 32 * p];
        const float s = warp_sum(part), mn = fmaxf(m, s), corr = expf(m - mn), pj = expf(s - mn);
        l = l * corr + pj;
#pragma unroll
        for (int p = 0; p < PER; p++) if (lane + 32 * p < d) acc[p] = acc[p] * corr + pj * vs[jj * d + lane + 32 * p];
        m = mn;
      }
    }
    __syncthreads();
  }
  if (active) {
#pragma unroll
    for (int p = 0; p < PER; p++)
      if (lane + 32 * p < d) st(out, t, ((long long)bi * lq + i) * c + h * d + lane + 32 * p, acc[p] / l);
    if (lane == 0) lse[((long long)bi * heads + h) * lq + i] = m + logf(l);
  }
}

#define ATTENTION_FORWARD(name, per)                                                                                  \
  extern "C" __global__ void name(const void* q, const void* k, const void* v, int t, int bq, int lq, int bk, int lk, int c, \
                                  int heads, float scale, int tile, void* out, float* lse) {                           \
    attention_forward_impl<per>(q, k, v, t, bq, lq, bk, lk, c, heads, scale, tile, out, lse);                         \
  }
ATTENTION_FORWARD(attention_forward, 8)
ATTENTION_FORWARD(attention_forward_wide, 16)

// delta = rowsum(gOut * out) per (bi, h, i): the softmax-backward correction term.
extern "C" __global__ void attention_delta(const void* out, int t, const void* go, int tg, int bq, int lq, int c, int heads, float* delta) {
  const int d = c / heads, bi = blockIdx.x / heads, h = blockIdx.x % heads;
  const int lane = threadIdx.x & 31, i = blockIdx.y * WARPS + (threadIdx.x >> 5);
  if (i >= lq) return;
  const long long o = ((long long)bi * lq + i) * c + h * d;
  float part = 0.f;
  for (int e = lane; e < d; e += 32) part += ld(out, t, o + e) * ld(go, tg, o + e);
  part = warp_sum(part);
  if (lane == 0) delta[((long long)bi * heads + h) * lq + i] = part;
}

// dq: one warp per query row, recomputing p = exp(s - lse) over key tiles.
template <int PER>
__device__ __forceinline__ void attention_backward_dq_impl(const void* q, const void* k, const void* v, int t, const void* go, int tg,
                                                           const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,
                                                           int heads, float scale, int tile, void* dq) {
  extern __shared__ float sm[];
  const int d = c / heads, bi = blockIdx.x / heads, h = blockIdx.x % heads, bj = bi / (bq / bk);
  const int lane = threadIdx.x & 31, i = blockIdx.y * WARPS + (threadIdx.x >> 5);
  const bool active = i < lq;
  float* ks = sm;
  float* vs = sm + tile * d;
  const long long qo = ((long long)bi * lq + i) * c + h * d;
  const long long so = ((long long)bi * heads + h) * lq + i;
  float qv[PER], gv[PER], acc[PER];
#pragma unroll
  for (int p = 0; p < PER; p++) {
    int e = lane + 32 * p;
    qv[p] = (active && e < d) ? ld(q, t, qo + e) : 0.f;
    gv[p] = (active && e < d) ? ld(go, tg, qo + e) : 0.f;
    acc[p] = 0.f;
  }
  const float li = active ? lse[so] : 0.f, di = active ? delta[so] : 0.f;
  for (int j0 = 0; j0 < lk; j0 += tile) {
    const int nt = min(tile, lk - j0);
    stage_rows(k, t, v, t, (long long)bj * lk + j0, nt, c, h * d, d, ks, vs);
    __syncthreads();
    if (active) {
      for (int jj = 0; jj < nt; jj++) {
        float ps = 0.f, pd = 0.f;
#pragma unroll
        for (int p = 0; p < PER; p++)
          if (lane + 32 * p < d) { ps += qv[p] * ks[jj * d + lane + 32 * p]; pd += gv[p] * vs[jj * d + lane + 32 * p]; }
        const float pj = expf(warp_sum(ps) * scale - li), ds = pj * (warp_sum(pd) - di) * scale;
#pragma unroll
        for (int p = 0; p < PER; p++) if (lane + 32 * p < d) acc[p] += ds * ks[jj * d + lane + 32 * p];
      }
    }
    __syncthreads();
  }
  if (active) {
#pragma unroll
    for (int p = 0; p < PER; p++) if (lane + 32 * p < d) st(dq, tg, qo + lane + 32 * p, acc[p]);
  }
}

#define ATTENTION_BACKWARD_DQ(name, per)                                                                              \
  extern "C" __global__ void name(const void* q, const void* k, const void* v, int t, const void* go, int tg,          \
                                  const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,         \
                                  int heads, float scale, int tile, void* dq) {                                        \
    attention_backward_dq_impl<per>(q, k, v, t, go, tg, lse, delta, bq, lq, bk, lk, c, heads, scale, tile, dq);       \
  }
ATTENTION_BACKWARD_DQ(attention_backward_dq, 8)
ATTENTION_BACKWARD_DQ(attention_backward_dq_wide, 16)

// dk, dv: one warp per key row of kv batch bj, summing over every query batch that reads it (bj*rep ..
// bj*rep+rep-1) in a fixed order: frame 0's K/V gradient collects all frames without atomics.
template <int PER>
__device__ __forceinline__ void attention_backward_dkv_impl(const void* q, const void* k, const void* v, int t, const void* go, int tg,
                                                            const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,
                                                            int heads, float scale, int tile, void* dk, void* dv) {
  extern __shared__ float sm[];
  const int d = c / heads, bj = blockIdx.x / heads, h = blockIdx.x % heads, rep = bq / bk;
  const int lane = threadIdx.x & 31, j = blockIdx.y * WARPS + (threadIdx.x >> 5);
  const bool active = j < lk;
  float* qs = sm;
  float* gs = sm + tile * d;
  float* ls = sm + 2 * tile * d;
  float* dls = ls + tile;
  const long long ko = ((long long)bj * lk + j) * c + h * d;
  float kv[PER], vv[PER], ak[PER], av[PER];
#pragma unroll
  for (int p = 0; p < PER; p++) {
    int e = lane + 32 * p;
    kv[p] = (active && e < d) ? ld(k, t, ko + e) : 0.f;
    vv[p] = (active && e < d) ? ld(v, t, ko + e) : 0.f;
    ak[p] = av[p] = 0.f;
  }
  for (int bi = bj * rep; bi < (bj + 1) * rep; bi++) {
    for (int i0 = 0; i0 < lq; i0 += tile) {
      const int nt = min(tile, lq - i0);
      stage_rows(q, t, go, tg, (long long)bi * lq + i0, nt, c, h * d, d, qs, gs);
      for (int e = threadIdx.x; e < nt; e += blockDim.x) {
        ls[e] = lse[((long long)bi * heads + h) * lq + i0 + e];
        dls[e] = delta[((long long)bi * heads + h) * lq + i0 + e];
      }
      __syncthreads();
      if (active) {
        for (int ii = 0; ii < nt; ii++) {
          float ps = 0.f, pd = 0.f;
#pragma unroll
          for (int p = 0; p < PER; p++)
            if (lane + 32 * p < d) { ps += qs[ii * d + lane + 32 * p] * kv[p]; pd += gs[ii * d + lane + 32 * p] * vv[p]; }
          const float pi = expf(warp_sum(ps) * scale - ls[ii]), ds = pi * (warp_sum(pd) - dls[ii]) * scale;
#pragma unroll
          for (int p = 0; p < PER; p++)
            if (lane + 32 * p < d) { av[p] += pi * gs[ii * d + lane + 32 * p]; ak[p] += ds * qs[ii * d + lane + 32 * p]; }
        }
      }
      __syncthreads();
    }
  }
  if (active) {
#pragma unroll
    for (int p = 0; p < PER; p++)
      if (lane + 32 * p < d) { st(dk, tg, ko + lane + 32 * p, ak[p]); st(dv, tg, ko + lane + 32 * p, av[p]); }
  }
}

#define ATTENTION_BACKWARD_DKV(name, per)                                                                             \
  extern "C" __global__ void name(const void* q, const void* k, const void* v, int t, const void* go, int tg,          \
                                  const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,         \
                                  int heads, float scale, int tile, void* dk, void* dv) {                              \
    attention_backward_dkv_impl<per>(q, k, v, t, go, tg, lse, delta, bq, lq, bk, lk, c, heads, scale, tile, dk, dv);  \
  }
ATTENTION_BACKWARD_DKV(attention_backward_dkv, 8)
ATTENTION_BACKWARD_DKV(attention_backward_dkv_wide, 16)
