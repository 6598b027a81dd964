// Group norm over x viewed as (N, S, C): statistics per (n, group of C/G contiguous channels) over S and the
// group's channels (S = H*W, or F*H*W for frame-pooled 5-D), biased variance, per-channel affine, optional
// SiLU. Layer norm is N = rows, S = 1, G = 1 (the CPU reference does the same). gamma/beta are F32 or null.
// Statistics: two passes in double (millions of elements per group in the VAE), stored F32; the forward also gets
// what the F32 mean leaves out (mean_lo = mu - (float)mu), so x - mu stays accurate where |mu| >> std (the CPU
// reference normalises with the double mean; with the F32 mean alone the error grows as |mu| / std * 2^-24).
#include "common.cuh"

// One block per (n, g).
extern "C" __global__ void norm_stats(const void* x, int t, long long s, int c, int groups, double eps, float* mean, float* rstd,
                                      float* mean_lo) {
  __shared__ double scratch[32];
  int n = blockIdx.x / groups, g = blockIdx.x % groups, cg = c / groups;
  long long m = s * cg;
  const long long base = (long long)n * s * c + (long long)g * cg;
  double acc = 0;
  for (long long e = threadIdx.x; e < m; e += blockDim.x) acc += ld(x, t, base + (e / cg) * c + e % cg);
  double mu = block_sum(acc, scratch) / (double)m;
  acc = 0;
  for (long long e = threadIdx.x; e < m; e += blockDim.x) {
    double d = ld(x, t, base + (e / cg) * c + e % cg) - mu;
    acc += d * d;
  }
  double var = block_sum(acc, scratch) / (double)m;
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = (float)mu;
    mean_lo[blockIdx.x] = (float)(mu - (double)(float)mu);
    rstd[blockIdx.x] = (float)(1.0 / sqrt(var + eps));
  }
}

// (x - mu) as (x - hi) - lo: x - hi is exact where x is near hi (Sterbenz), the F32 mean's rounding then removed.
__device__ __forceinline__ float norm_pre(float xv, float mu, float lo, float r, const float* gamma, const float* beta, int ch) {
  return ((xv - mu) - lo) * r * (gamma ? gamma[ch] : 1.f) + (beta ? beta[ch] : 0.f);
}

extern "C" __global__ void norm_apply(const void* x, int t, long long n, long long s, int c, int groups, const float* mean,
                                      const float* mean_lo, const float* rstd, const float* gamma, const float* beta, int silu, void* y) {
  int cg = c / groups;
  GRID_STRIDE(i, n * s * c) {
    int ch = (int)(i % c);
    long long ng = (i / (s * c)) * groups + ch / cg;
    float v = norm_pre(ld(x, t, i), mean[ng], mean_lo[ng], rstd[ng], gamma, beta, ch);
    st(y, t, i, silu ? v * sigmoidf_(v) : v);
  }
}

// The gradient before the fused SiLU.
__device__ __forceinline__ float norm_gpre(const void* x, int t, const void* gy, int tg, long long i, int ch, float mu, float r,
                                           const float* gamma, const float* beta, int silu) {
  float g = ld(gy, tg, i);
  if (!silu) return g;
  float v = norm_pre(ld(x, t, i), mu, 0.f, r, gamma, beta, ch);   // the backward uses the saved F32 stats, as the CPU does
  float sg = sigmoidf_(v);
  return g * sg * (1.f + v * (1.f - sg));
}

// dx, one block per (n, g): dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = gpre * gamma.
extern "C" __global__ void norm_backward_dx(const void* x, int t, const void* gy, int tg, long long s, int c, int groups,
                                            const float* mean, const float* rstd, const float* gamma, const float* beta, int silu,
                                            void* dx, int tdx) {
  __shared__ double scratch[32];
  int n = blockIdx.x / groups, g = blockIdx.x % groups, cg = c / groups;
  long long m = s * cg;
  const long long base = (long long)n * s * c + (long long)g * cg;
  float mu = mean[blockIdx.x], r = rstd[blockIdx.x];
  double sd = 0, sdx = 0;
  for (long long e = threadIdx.x; e < m; e += blockDim.x) {
    long long i = base + (e / cg) * c + e % cg;
    int ch = g * cg + (int)(e % cg);
    float dxh = norm_gpre(x, t, gy, tg, i, ch, mu, r, gamma, beta, silu) * (gamma ? gamma[ch] : 1.f);
    sd += dxh;
    sdx += (double)dxh * ((ld(x, t, i) - mu) * r);
  }
  float meanD = (float)(block_sum(sd, scratch) / (double)m);
  float meanDX = (float)(block_sum(sdx, scratch) / (double)m);
  for (long long e = threadIdx.x; e < m; e += blockDim.x) {
    long long i = base + (e / cg) * c + e % cg;
    int ch = g * cg + (int)(e % cg);
    float dxh = norm_gpre(x, t, gy, tg, i, ch, mu, r, gamma, beta, silu) * (gamma ? gamma[ch] : 1.f);
    float xh = (ld(x, t, i) - mu) * r;
    st(dx, tdx, i, r * (dxh - meanD - xh * meanDX));
  }
}

// dgamma/dbeta partial sums: block (32, 8) covers 32 channels; blockIdx.y takes rows chunk, chunk+gridDim.y, ...
// Writes pg/pb (gridDim.y, C); column_sum (reduce.cu) finishes them in a fixed order.
extern "C" __global__ void norm_backward_params(const void* x, int t, const void* gy, int tg, long long rows, long long s, int c,
                                                int groups, const float* mean, const float* rstd, const float* gamma,
                                                const float* beta, int silu, float* pg, float* pb) {
  __shared__ float sg_[8][33], sb_[8][33];
  int ch = blockIdx.x * 32 + threadIdx.x, cg = c / groups;
  float ag = 0.f, ab = 0.f;
  if (ch < c) {
    for (long long row = blockIdx.y * 8 + threadIdx.y; row < rows; row += 8LL * gridDim.y) {
      long long i = row * c + ch, ng = (row / s) * groups + ch / cg;
      float mu = mean[ng], r = rstd[ng];
      float gp = norm_gpre(x, t, gy, tg, i, ch, mu, r, gamma, beta, silu);
      ag += gp * (ld(x, t, i) - mu) * r;
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
