// Group norm over x viewed as (N, S, C): statistics per (n, group of C/G contiguous channels) over S and the
// group's channels (S = H*W, or F*H*W for frame-pooled 5-D), biased variance, per-channel affine, optional
// SiLU. Layer norm is N = rows, S = 1, G = 1 (the CPU reference does the same). gamma/beta: null, or C values of dtype
// tp (the module's parameters as they are: no cast per call).
// Statistics: two passes in double (millions of elements per group in the VAE), stored F32; the forward also gets
// what the F32 mean leaves out (mean_lo = mu - (float)mu), so x - mu stays accurate where |mu| >> std (the CPU
// reference normalises with the double mean; with the F32 mean alone the error grows as |mu| / std * 2^-24).
#include "common.cuh"

// Thread tid's walk over one (n, g) group's S x cg elements in the order e = tid, tid + step, ...: element e is
// pixel e / cg, channel j = e % cg of the group, at offset base + (e / cg) c + j in x. The next one is found by adds
// and a compare; e / cg and e % cg per element (64-bit) were ~40 SASS instructions for a 2-byte element (not timed).
struct GroupWalk {
  long long off;  // the current element's offset in x
  int j;          // its channel within the group
  int cg, dj;     // group width; step % cg
  long long doff, wrap;

  __device__ GroupWalk(long long base, int c, int cg_, int tid, int step) : cg(cg_) {
    j = tid % cg;
    off = base + (long long)(tid / cg) * c + j;
    dj = step % cg;
    doff = (long long)(step / cg) * c + dj;
    wrap = c - cg;  // past the group's last channel: on to the next pixel's first
  }
  __device__ void next() {
    off += doff;
    j += dj;
    if (j >= cg) {
      j -= cg;
      off += wrap;
    }
  }
};

// For each element of walk w (e = threadIdx.x, + blockDim.x, ... < m), in that order: use(load(w), w) with the walk at
// that element, the loads four elements at a time before their uses (a load followed by the arithmetic that needs it
// leaves one 2-byte load in flight per thread, too few to keep the memory busy).
template <class Load, class Use>
__device__ __forceinline__ void walk_batched(GroupWalk w, long long m, Load&& load, Use&& use) {
  constexpr int B = 4;
  for (long long e = threadIdx.x; e < m; e += B * (long long)blockDim.x) {
    decltype(load(w)) v[B];
    GroupWalk u = w;
#pragma unroll
    for (int k = 0; k < B; k++) {
      if (e + k * (long long)blockDim.x < m) v[k] = load(w);
      w.next();
    }
#pragma unroll
    for (int k = 0; k < B; k++) {
      if (e + k * (long long)blockDim.x < m) use(v[k], u);
      u.next();
    }
  }
}

// One block per (n, g).
extern "C" __global__ void norm_stats(const void* x, int t, long long s, int c, int groups, double eps, float* mean, float* rstd,
                                      float* mean_lo) {
  __shared__ double scratch[32];
  int n = blockIdx.x / groups, g = blockIdx.x % groups, cg = c / groups;
  long long m = s * cg;
  const GroupWalk start((long long)n * s * c + (long long)g * cg, c, cg, threadIdx.x, blockDim.x);
  const auto value = [&](const GroupWalk& w) { return ld(x, t, w.off); };
  double acc = 0;
  walk_batched(start, m, value, [&](float v, const GroupWalk&) { acc += v; });
  double mu = block_sum(acc, scratch) / (double)m;
  acc = 0;
  walk_batched(start, m, value, [&](float v, const GroupWalk&) {
    double d = v - mu;
    acc += d * d;
  });
  double var = block_sum(acc, scratch) / (double)m;
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = (float)mu;
    mean_lo[blockIdx.x] = (float)(mu - (double)(float)mu);
    rstd[blockIdx.x] = (float)(1.0 / sqrt(var + eps));
  }
}

// (x - mu) as (x - hi) - lo: x - hi is exact where x is near hi (Sterbenz), the F32 mean's rounding then removed.
__device__ __forceinline__ float norm_pre(float xv, float mu, float lo, float r, float ga, float be) {
  return ((xv - mu) - lo) * r * ga + be;
}
// The per-channel affine: gamma and beta of dtype t, either null.
struct Affine {
  const void *gamma, *beta;
  int t;
  __device__ float weight(int ch) const { return gamma ? ld(gamma, t, ch) : 1.f; }
  __device__ float bias(int ch) const { return beta ? ld(beta, t, ch) : 0.f; }
};

// Block (32, 8) over a tile of 32 rows (pixels) x C: threadIdx.x walks a row's channels, threadIdx.y takes rows
// ty, ty + 8, ty + 16, ty + 24 of the tile, their four loads issued before any is used (one 2-byte load in flight per
// thread cannot keep the memory busy). A thread finds its channel's group once per channel and a row's image n by
// fast_div (fs = fast_divisor(S); rows = N S < 2^31: CudaBackend.normRows): found per element, i % C and i / (S C) in
// 64 bits were most of the kernel's instructions. Launch bounds: built for every dtype, it would take 95 registers (2
// blocks per SM); 48 lets 5 blocks in, without spills.
extern "C" __global__ void __launch_bounds__(256, 5) norm_apply(const void* x, int t, int rows, long long fs, int c, int groups, const float* mean,
                                      const float* mean_lo, const float* rstd, const void* gamma, const void* beta, int tp, int silu,
                                      void* y) {
  const Affine aff{gamma, beta, tp};
  constexpr int R = 4;
  const int cg = c / groups;
  for (long long tile = blockIdx.x * 8LL * R; tile < rows; tile += 8LL * R * gridDim.x) {
    for (int ch = threadIdx.x; ch < c; ch += 32) {
      const int g = ch / cg;
      const float ga = aff.weight(ch), be = aff.bias(ch);  // once per channel: y's stores may alias them
      float v[R];
#pragma unroll
      for (int k = 0; k < R; k++) {
        const long long row = tile + threadIdx.y + 8 * k;
        v[k] = row < rows ? ld(x, t, row * c + ch) : 0.f;
      }
#pragma unroll
      for (int k = 0; k < R; k++) {
        const long long row = tile + threadIdx.y + 8 * k;
        if (row >= rows) break;
        const int ng = fast_div((int)row, fs) * groups + g;
        const float o = norm_pre(v[k], mean[ng], mean_lo[ng], rstd[ng], ga, be);
        st(y, t, row * c + ch, silu ? o * sigmoidf_(o) : o);
      }
    }
  }
}

// The gradient before the fused SiLU, from x's value xv and gy's g at channel ch.
__device__ __forceinline__ float norm_gpre(float xv, float g, int ch, float mu, float r, const Affine& aff, int silu) {
  if (!silu) return g;
  float v = norm_pre(xv, mu, 0.f, r, aff.weight(ch), aff.bias(ch));   // the backward uses the saved F32 stats, as the CPU does
  float sg = sigmoidf_(v);
  return g * sg * (1.f + v * (1.f - sg));
}

// dx, one block per (n, g): dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = gpre * gamma.
extern "C" __global__ void norm_backward_dx(const void* x, int t, const void* gy, int tg, long long s, int c, int groups,
                                            const float* mean, const float* rstd, const void* gamma, const void* beta, int tp,
                                            int silu, void* dx, int tdx) {
  const Affine aff{gamma, beta, tp};
  __shared__ double scratch[32];
  int n = blockIdx.x / groups, g = blockIdx.x % groups, cg = c / groups;
  long long m = s * cg;
  const GroupWalk start((long long)n * s * c + (long long)g * cg, c, cg, threadIdx.x, blockDim.x);
  float mu = mean[blockIdx.x], r = rstd[blockIdx.x];
  double sd = 0, sdx = 0;
  const auto values = [&](const GroupWalk& w) { return make_float2(ld(x, t, w.off), ld(gy, tg, w.off)); };  // x, gy
  walk_batched(start, m, values, [&](float2 v, const GroupWalk& w) {
    int ch = g * cg + w.j;
    float dxh = norm_gpre(v.x, v.y, ch, mu, r, aff, silu) * aff.weight(ch);
    sd += dxh;
    sdx += (double)dxh * ((v.x - mu) * r);
  });
  float meanD = (float)(block_sum(sd, scratch) / (double)m);
  float meanDX = (float)(block_sum(sdx, scratch) / (double)m);
  walk_batched(start, m, values, [&](float2 v, const GroupWalk& w) {
    int ch = g * cg + w.j;
    float dxh = norm_gpre(v.x, v.y, ch, mu, r, aff, silu) * aff.weight(ch);
    float xh = (v.x - mu) * r;
    st(dx, tdx, w.off, r * (dxh - meanD - xh * meanDX));
  });
}

// dgamma/dbeta partial sums: block (32, 8) covers 32 channels; blockIdx.y takes rows chunk, chunk+gridDim.y, ...
// (rows = N S < 2^31, fs = fast_divisor(S)). Writes pg/pb (gridDim.y, C); column_sum (reduce.cu) finishes them in a
// fixed order.
extern "C" __global__ void norm_backward_params(const void* x, int t, const void* gy, int tg, int rows, long long fs, int c,
                                                int groups, const float* mean, const float* rstd, const void* gamma,
                                                const void* beta, int tp, int silu, float* pg, float* pb) {
  const Affine aff{gamma, beta, tp};
  __shared__ float sg_[8][33], sb_[8][33];
  int ch = blockIdx.x * 32 + threadIdx.x, g = ch / (c / groups);
  float ag = 0.f, ab = 0.f;
  if (ch < c) {
    for (long long row = blockIdx.y * 8 + threadIdx.y; row < rows; row += 8LL * gridDim.y) {
      long long i = row * c + ch;
      int ng = fast_div((int)row, fs) * groups + g;  // row / S as in norm_apply
      float mu = mean[ng], r = rstd[ng];
      float xv = ld(x, t, i);
      float gp = norm_gpre(xv, ld(gy, tg, i), ch, mu, r, aff, silu);
      ag += gp * (xv - mu) * r;
      ab += gp;
    }
  }
  sg_[threadIdx.y][threadIdx.x] = ag;
  sb_[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    for (int k = 1; k < 8; k++) { ag += sg_[k][threadIdx.x]; ab += sb_[k][threadIdx.x]; }
    pg[blockIdx.y * (long long)c + ch] = ag;
    pb[blockIdx.y * (long long)c + ch] = ab;
  }
}
