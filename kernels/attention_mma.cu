// Tensor-core attention forward (flash style) for head dim 64, bf16 or f16, sm_80+: the fast path of the
// attention op for every layout the UNet runs (all-to-first, spatial cross, temporal); same contract as
// attention.cu's attention_forward, whose backward consumes the log-sum-exp saved here.
//
// q (Bq, Lq, C), k / v (Bk, Lk, C), contiguous, head h = channels h*64 .. h*64+63; query batch bi reads key/value
// batch bi / (Bq / Bk), so all-to-first attention reads frame 0's K/V once per video, never replicated.
// Block = 4 warps = 64 query rows of one (batch, head); each warp owns 16 rows. K/V tiles of 64 keys stream
// through shared memory, double-buffered with cp.async. S = Q K^T and O += P V are mma.sync m16n8k16 with fp32
// accumulators; the online softmax works on the S fragments in registers (row max / sum over the 4 lanes of a
// quad), and P goes from S's accumulator layout straight into A fragments for P V (p_frag below), never
// touching shared memory. Scores are scaled by scale * log2(e) so exp2 does the exponentials; lse is returned in
// natural-log units. Index functions are __host__ too: kernels/check/attention_mma_host_check.cu runs them.
#include "common.cuh"
#include "mma.cuh"

namespace attn {

constexpr int D = 64, BQ = 64, BKV = 64, THREADS = 128;
constexpr int CPR = D / 8;              // 16-byte chunks per tile row
constexpr int TILE_CHUNKS = BQ * CPR;   // 512 per Q, K or V tile (BQ == BKV)

// A thread's copies of a 64-row tile: rows (query or key) by 64 channels, K-major (the GEMM kernels' tile copy layout,
// mma::slot<CPR>), copy it's row and slot an add from copy 0's. (Split per copy from the chunk index, the forward took
// 145 registers on sm_90a, 3 blocks per SM; 128 now, 4: docs/CUDA.md.)
using Copies = mma::TileCopies<true, BQ, D, THREADS>;

// P's A fragment for keys kk*16 .. kk*16+15, register `reg` (0..3), half `half` (0 low, 1 high): which S
// accumulator holds it, as (n8 tile, element). a0/a1 are rows g / g+8 of keys 2c.., a2/a3 the same for keys 8+2c..;
// an m16n8 accumulator has rows g / g+8 in elements 0,1 / 2,3 at columns 2c, 2c+1: the layouts line up tile by tile.
__host__ __device__ inline void p_frag(int kk, int reg, int half, int& tile, int& e) {
  tile = 2 * kk + (reg >> 1);
  e = (reg & 1) * 2 + half;
}

__device__ __forceinline__ unsigned pack2(float lo, float hi, bool bf16) {
  unsigned short a, b;
  if (bf16) {
    a = __bfloat16_as_ushort(__float2bfloat16_rn(lo));
    b = __bfloat16_as_ushort(__float2bfloat16_rn(hi));
  } else {
    a = __half_as_ushort(__float2half_rn(lo));
    b = __half_as_ushort(__float2half_rn(hi));
  }
  return (unsigned)a | ((unsigned)b << 16);
}

// Copies rows row0.. (up to 64, zero past `rows`) of one head's 64 channels into a swizzled tile.
__device__ __forceinline__ void load_tile(uint4* s, const uint16_t* base, long long row0, int rows, int c) {
  const Copies copies(threadIdx.x);
#pragma unroll
  for (int it = 0; it < Copies::COPIES; it++) {
    const int r = copies.row(it);
    const bool valid = r < rows;
    mma::cp_async16(s + copies.slot(it), base + (valid ? (row0 + r) * c + copies.c * 8 : 0), valid);
  }
}

// acc (16 x 64 as 8 n8 tiles) += A (16 x 64 as four k16 fragments) B, B a 64 x 64 shared tile whose rows run along
// n (KMAJOR_B: B^T is stored, e.g. K in Q K^T) or along k (read with ldmatrix.trans, e.g. V in P V).
template <bool BF16, bool KMAJOR_B>
__device__ __forceinline__ void warp_mma(float (&acc)[8][4], const unsigned (&a)[4][4], const uint4* tile, int lane) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int p = 0; p < 4; p++) {
      unsigned r[4];
      mma::ldmatrix_x4<!KMAJOR_B>(r, tile + mma::b_frag_slot<KMAJOR_B, CPR>(lane, p * 16, kk * 16));
      mma::mma16816<BF16>(acc[2 * p], a[kk], r[0], r[1]);
      mma::mma16816<BF16>(acc[2 * p + 1], a[kk], r[2], r[3]);
    }
}

// A 16 x 64 accumulator (P, dS) as the A fragments of the next product, rounded to the operand type.
template <bool BF16>
__device__ __forceinline__ void acc_to_a(const float (&s)[8][4], unsigned (&a)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int reg = 0; reg < 4; reg++) {
      int t0, e0, t1, e1;
      p_frag(kk, reg, 0, t0, e0);
      p_frag(kk, reg, 1, t1, e1);
      a[kk][reg] = pack2(s[t0][e0], s[t1][e1], BF16);
    }
}

// Rows warp*16.. of a 64-row shared tile as four k16 A fragments (the tile's rows run along m).
__device__ __forceinline__ void tile_to_a(const uint4* tile, int warp, int lane, unsigned (&a)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++) mma::ldmatrix_x4<false>(a[kk], tile + mma::a_frag_slot<true, CPR>(lane, warp * 16, kk * 16));
}

template <bool BF16>
__device__ __forceinline__ void forward(const uint16_t* q, const uint16_t* k, const uint16_t* v, int bq, int lq, int bk,
                                        int lk, int c, int heads, float scale, void* out, int t, float* lse) {
  __shared__ uint4 qs[TILE_CHUNKS], ks[2][TILE_CHUNKS], vs[2][TILE_CHUNKS];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int bi = blockIdx.x / heads, h = blockIdx.x % heads, bj = bi / (bq / bk), q0 = blockIdx.y * BQ;
  const uint16_t* qb = q + h * D;
  const uint16_t* kb = k + h * D;
  const uint16_t* vb = v + h * D;
  const float sl2 = scale * 1.4426950408889634f;  // scores in log2 units
  const int tiles = (lk + BKV - 1) / BKV;

  load_tile(qs, qb, (long long)bi * lq + q0, lq - q0, c);
  load_tile(ks[0], kb, (long long)bj * lk, lk, c);
  load_tile(vs[0], vb, (long long)bj * lk, lk, c);
  mma::cp_async_commit();

  unsigned qf[4][4];                 // this warp's 16 query rows as A fragments, k16 steps over the 64 channels
  float o[8][4] = {};                // O accumulators: 8 n8 tiles over the 64 channels
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // rows g and g+8: running max (log2 units), partial sum

  for (int jt = 0; jt < tiles; jt++) {
    const int j0 = jt * BKV, buf = jt & 1;
    if (jt + 1 < tiles) {  // the other buffer was last read in iteration jt-1, which ended with a barrier
      long long r0 = (long long)bj * lk + j0 + BKV;
      load_tile(ks[buf ^ 1], kb, r0, lk - j0 - BKV, c);
      load_tile(vs[buf ^ 1], vb, r0, lk - j0 - BKV, c);
    }
    mma::cp_async_commit();
    mma::cp_async_wait<1>();  // everything but the tile just issued has landed
    __syncthreads();
    if (jt == 0) tile_to_a(qs, warp, lane, qf);

    float s[8][4] = {};  // S = Q K^T for 16 rows x 64 keys
    warp_mma<BF16, true>(s, qf, ks[buf], lane);

    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int n = 0; n < 8; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float x = j0 + n * 8 + mma::acc_col(lane, e) < lk ? s[n][e] * sl2 : -INFINITY;
        s[n][e] = x;
        mx[e / 2] = fmaxf(mx[e / 2], x);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {  // the 4 lanes of a quad share a row
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      corr[r] = exp2f(m[r] - mx[r]);  // m = -inf on the first tile: 0, and l, o are 0 anyway
      m[r] = mx[r];
      l[r] *= corr[r];
    }
#pragma unroll
    for (int n = 0; n < 8; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = exp2f(s[n][e] - m[e / 2]);
        s[n][e] = p;
        l[e / 2] += p;
        o[n][e] *= corr[e / 2];
      }

    unsigned pa[4][4];
    acc_to_a<BF16>(s, pa);
    warp_mma<BF16, false>(o, pa, vs[buf], lane);  // O += P V
    __syncthreads();  // this buffer is refilled two iterations on
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  const float inv[2] = {1.f / l[0], 1.f / l[1]};
#pragma unroll
  for (int n = 0; n < 8; n++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      int row = q0 + warp * 16 + mma::acc_row(lane, e);
      if (row < lq) st(out, t, ((long long)bi * lq + row) * c + h * D + n * 8 + mma::acc_col(lane, e), o[n][e] * inv[e / 2]);
    }
  if (lane % 4 == 0)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int row = q0 + warp * 16 + lane / 4 + r * 8;
      if (row < lq) lse[((long long)bi * heads + h) * lq + row] = (m[r] + log2f(l[r])) * 0.6931471805599453f;
    }
}

// Backward, as two kernels so that no gradient needs atomics (deterministic, like attention.cu): dq walks the key
// tiles of its query block; dkv walks every query tile of every query batch that reads its keys (all frames of a
// video for all-to-first), in a fixed order. Both recompute P = exp(S - lse) from the forward's log-sum-exp, with
// delta = rowsum(dO * O) from attention.cu's attention_delta; dS = P (dP - delta) scale.

// dQ = dS K for 64 query rows of one (batch, head).
template <bool BF16>
__device__ __forceinline__ void backward_dq(const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* go,
                                            const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,
                                            int heads, float scale, void* dq, int t) {
  __shared__ uint4 qs[TILE_CHUNKS], gs[TILE_CHUNKS], ks[TILE_CHUNKS], vs[TILE_CHUNKS];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int bi = blockIdx.x / heads, h = blockIdx.x % heads, bj = bi / (bq / bk), q0 = blockIdx.y * BQ;
  const float l2e = 1.4426950408889634f, sl2 = scale * l2e;
  load_tile(qs, q + h * D, (long long)bi * lq + q0, lq - q0, c);
  load_tile(gs, go + h * D, (long long)bi * lq + q0, lq - q0, c);
  mma::cp_async_commit();
  float lrow[2], drow[2];  // rows g, g+8 of this lane: lse (log2 units) and delta
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int row = q0 + warp * 16 + lane / 4 + r * 8;
    long long si = ((long long)bi * heads + h) * lq + row;
    lrow[r] = row < lq ? lse[si] * l2e : 0.f;
    drow[r] = row < lq ? delta[si] : 0.f;
  }
  unsigned qf[4][4], gf[4][4];
  float dqa[8][4] = {};
  for (int j0 = 0; j0 < lk; j0 += BKV) {
    __syncthreads();  // the previous tile is no longer read
    load_tile(ks, k + h * D, (long long)bj * lk + j0, lk - j0, c);
    load_tile(vs, v + h * D, (long long)bj * lk + j0, lk - j0, c);
    mma::cp_async_commit();
    mma::cp_async_wait<0>();
    __syncthreads();
    if (j0 == 0) {
      tile_to_a(qs, warp, lane, qf);
      tile_to_a(gs, warp, lane, gf);
    }
    float s[8][4] = {}, dp[8][4] = {};
    warp_mma<BF16, true>(s, qf, ks, lane);   // S = Q K^T
    warp_mma<BF16, true>(dp, gf, vs, lane);  // dP = dO V^T
#pragma unroll
    for (int n = 0; n < 8; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = j0 + n * 8 + mma::acc_col(lane, e) < lk ? exp2f(s[n][e] * sl2 - lrow[e / 2]) : 0.f;
        s[n][e] = p * (dp[n][e] - drow[e / 2]) * scale;  // dS
      }
    unsigned dsa[4][4];
    acc_to_a<BF16>(s, dsa);
    warp_mma<BF16, false>(dqa, dsa, ks, lane);  // dQ += dS K
  }
#pragma unroll
  for (int n = 0; n < 8; n++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      int row = q0 + warp * 16 + mma::acc_row(lane, e);
      if (row < lq) st(dq, t, ((long long)bi * lq + row) * c + h * D + n * 8 + mma::acc_col(lane, e), dqa[n][e]);
    }
}

// dK = dS^T Q and dV = P^T dO for 64 keys of key/value batch bj, over every query batch bj*rep .. that reads them.
// Works on transposes: S^T = K Q^T, dP^T = V dO^T, so each warp's 16 keys are the m rows throughout.
template <bool BF16>
__device__ __forceinline__ void backward_dkv(const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* go,
                                             const float* lse, const float* delta, int bq, int lq, int bk, int lk, int c,
                                             int heads, float scale, void* dk, void* dv, int t) {
  __shared__ uint4 qs[TILE_CHUNKS], gs[TILE_CHUNKS], ks[TILE_CHUNKS], vs[TILE_CHUNKS];
  __shared__ float ls[BQ], ds[BQ];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, rep = bq / bk;
  const int bj = blockIdx.x / heads, h = blockIdx.x % heads, k0 = blockIdx.y * BKV;
  const float l2e = 1.4426950408889634f, sl2 = scale * l2e;
  load_tile(ks, k + h * D, (long long)bj * lk + k0, lk - k0, c);
  load_tile(vs, v + h * D, (long long)bj * lk + k0, lk - k0, c);
  mma::cp_async_commit();
  unsigned kf[4][4], vf[4][4];
  float dka[8][4] = {}, dva[8][4] = {};
  bool first = true;
  for (int bi = bj * rep; bi < (bj + 1) * rep; bi++)
    for (int i0 = 0; i0 < lq; i0 += BQ) {
      __syncthreads();  // the previous query tile is no longer read
      load_tile(qs, q + h * D, (long long)bi * lq + i0, lq - i0, c);
      load_tile(gs, go + h * D, (long long)bi * lq + i0, lq - i0, c);
      mma::cp_async_commit();
      if (threadIdx.x < BQ) {
        int i = i0 + threadIdx.x;
        long long si = ((long long)bi * heads + h) * lq + i;
        ls[threadIdx.x] = i < lq ? lse[si] * l2e : 0.f;
        ds[threadIdx.x] = i < lq ? delta[si] : 0.f;
      }
      mma::cp_async_wait<0>();
      __syncthreads();
      if (first) {
        tile_to_a(ks, warp, lane, kf);
        tile_to_a(vs, warp, lane, vf);
        first = false;
      }
      float s[8][4] = {}, dp[8][4] = {};
      warp_mma<BF16, true>(s, kf, qs, lane);   // S^T = K Q^T
      warp_mma<BF16, true>(dp, vf, gs, lane);  // dP^T = V dO^T
#pragma unroll
      for (int n = 0; n < 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int col = n * 8 + mma::acc_col(lane, e);  // the query, within the tile
          float p = i0 + col < lq ? exp2f(s[n][e] * sl2 - ls[col]) : 0.f;
          s[n][e] = p;                                     // P^T
          dp[n][e] = p * (dp[n][e] - ds[col]) * scale;     // dS^T
        }
      unsigned pa[4][4], dsa[4][4];
      acc_to_a<BF16>(s, pa);
      acc_to_a<BF16>(dp, dsa);
      warp_mma<BF16, false>(dva, pa, gs, lane);   // dV += P^T dO
      warp_mma<BF16, false>(dka, dsa, qs, lane);  // dK += dS^T Q
    }
#pragma unroll
  for (int n = 0; n < 8; n++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      int row = k0 + warp * 16 + mma::acc_row(lane, e);
      if (row < lk) {
        long long o = ((long long)bj * lk + row) * c + h * D + n * 8 + mma::acc_col(lane, e);
        st(dk, t, o, dka[n][e]);
        st(dv, t, o, dva[n][e]);
      }
    }
}

}  // namespace attn

#define ATTN_MMA_ENTRY(NAME, BF16)                                                                                  \
  extern "C" __global__ void __launch_bounds__(attn::THREADS) NAME(                                                 \
      const void* q, const void* k, const void* v, int bq, int lq, int bk, int lk, int c, int heads, float scale,   \
      void* out, int t, float* lse) {                                                                               \
    attn::forward<BF16>((const uint16_t*)q, (const uint16_t*)k, (const uint16_t*)v, bq, lq, bk, lk, c, heads, scale, \
                        out, t, lse);                                                                               \
  }
ATTN_MMA_ENTRY(attention_mma_forward_bf16, true)
ATTN_MMA_ENTRY(attention_mma_forward_f16, false)

#define ATTN_MMA_BACKWARD_ENTRIES(SUFFIX, BF16)                                                                       \
  extern "C" __global__ void __launch_bounds__(attn::THREADS) attention_mma_backward_dq_##SUFFIX(                    \
      const void* q, const void* k, const void* v, const void* go, const float* lse, const float* delta, int bq,      \
      int lq, int bk, int lk, int c, int heads, float scale, void* dq, int t) {                                       \
    attn::backward_dq<BF16>((const uint16_t*)q, (const uint16_t*)k, (const uint16_t*)v, (const uint16_t*)go, lse,    \
                            delta, bq, lq, bk, lk, c, heads, scale, dq, t);                                           \
  }                                                                                                                   \
  extern "C" __global__ void __launch_bounds__(attn::THREADS) attention_mma_backward_dkv_##SUFFIX(                   \
      const void* q, const void* k, const void* v, const void* go, const float* lse, const float* delta, int bq,      \
      int lq, int bk, int lk, int c, int heads, float scale, void* dk, void* dv, int t) {                             \
    attn::backward_dkv<BF16>((const uint16_t*)q, (const uint16_t*)k, (const uint16_t*)v, (const uint16_t*)go, lse,   \
                             delta, bq, lq, bk, lk, c, heads, scale, dk, dv, t);                                      \
  }
ATTN_MMA_BACKWARD_ENTRIES(bf16, true)
ATTN_MMA_BACKWARD_ENTRIES(f16, false)
