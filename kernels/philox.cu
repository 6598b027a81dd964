// Philox 4x32-10 streams, the CUDA twin of random/Philox.java: must agree bit for bit. Hence every double
// operation below is an explicit round-to-nearest intrinsic (no fused multiply-add contraction), in the Java
// file's order, with its own log and sin/cos polynomials instead of the math library.
#include "common.cuh"
#include <string.h>

#ifdef __CUDA_ARCH__
#define DADD(a, b) __dadd_rn(a, b)
#define DSUB(a, b) __dsub_rn(a, b)
#define DMUL(a, b) __dmul_rn(a, b)
#define DDIV(a, b) __ddiv_rn(a, b)
#define DSQRT(a) __dsqrt_rn(a)
#define HD __host__ __device__
#else  // host build of this file for kernels/check/philox_host_check.cu (x86-64 without -mfma never contracts)
#include <math.h>
#define DADD(a, b) ((a) + (b))
#define DSUB(a, b) ((a) - (b))
#define DMUL(a, b) ((a) * (b))
#define DDIV(a, b) ((a) / (b))
#define DSQRT(a) sqrt(a)
#define HD __host__ __device__
#endif

HD inline void philox_block(unsigned long long seed, unsigned long long block, unsigned int out[4]) {
  unsigned int c0 = (unsigned int)block, c1 = (unsigned int)(block >> 32), c2 = 0, c3 = 0;
  unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    unsigned long long p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
    unsigned int hi0 = (unsigned int)(p0 >> 32), lo0 = (unsigned int)p0, hi1 = (unsigned int)(p1 >> 32), lo1 = (unsigned int)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

HD inline float philox_uniform(unsigned int w) { return (float)(w >> 8) * 0x1p-24f; }

HD inline double philox_log(double x) {
  long long bits;
  memcpy(&bits, &x, 8);
  int e = (int)((bits >> 52) & 0x7ff) - 1023;
  long long mb = (bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL;
  double m;
  memcpy(&m, &mb, 8);
  if (m > 0x1.6a09e667f3bcdp0) { m = DMUL(m, 0.5); e = e + 1; }
  double s = DDIV(DSUB(m, 1.0), DADD(m, 1.0));
  double z = DMUL(s, s);
  const double c[11] = {0x1.8618618618618p-5, 0x1.af286bca1af28p-5, 0x1.e1e1e1e1e1e1ep-5, 0x1.1111111111111p-4, 0x1.3b13b13b13b14p-4,
                        0x1.745d1745d1746p-4, 0x1.c71c71c71c71cp-4, 0x1.2492492492492p-3, 0x1.999999999999ap-3, 0x1.5555555555555p-2, 1.0};
  double p = 0x1.642c8590b2164p-5;
#pragma unroll
  for (int i = 0; i < 11; i++) p = DADD(DMUL(p, z), c[i]);
  return DADD(DMUL((double)e, 0x1.62e42fefa39efp-1), DMUL(DMUL(2.0, s), p));
}

HD inline void philox_sincos2pi(double u, double* sn, double* cs) {
  double t = DMUL(u, 4.0);
  int q = (int)t;
  double f = DSUB(t, (double)q);
  bool swap = f > 0.5;
  double x = DMUL(swap ? DSUB(1.0, f) : f, 0x1.921fb54442d18p0);
  double x2 = DMUL(x, x);
  const double S[8] = {1.0, -0x1.5555555555555p-3, 0x1.1111111111111p-7, -0x1.a01a01a01a01ap-13, 0x1.71de3a556c734p-19,
                       -0x1.ae64567f544e4p-26, 0x1.6124613a86d09p-33, -0x1.ae7f3e733b81fp-41};
  const double C[8] = {1.0, -0.5, 0x1.5555555555555p-5, -0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-16,
                       -0x1.27e4fb7789f5cp-22, 0x1.1eed8eff8d898p-29, -0x1.93974a8c07c9dp-37};
  double hs = S[7], hc = C[7];
#pragma unroll
  for (int k = 6; k >= 0; k--) { hs = DADD(S[k], DMUL(x2, hs)); hc = DADD(C[k], DMUL(x2, hc)); }
  double s = DMUL(x, hs), c = hc;
  double sin_ = swap ? c : s, cos_ = swap ? s : c;
  switch (q) {
    case 0: *sn = sin_; *cs = cos_; break;
    case 1: *sn = cos_; *cs = -sin_; break;
    case 2: *sn = -sin_; *cs = -cos_; break;
    default: *sn = -cos_; *cs = sin_;
  }
}

HD inline float philox_box_muller(unsigned int a, unsigned int b, bool first) {
  double u1 = DMUL((double)((unsigned long long)a + 1ull), 0x1p-32);
  double u2 = DMUL((double)b, 0x1p-32);
  double r = DSQRT(DMUL(-2.0, philox_log(u1)));
  double sn, cs;
  philox_sincos2pi(u2, &sn, &cs);
  return (float)(first ? DMUL(r, cs) : DMUL(r, sn));
}

#ifdef __CUDACC__
// Element i of the (possibly strided) output draws block offset + i/4, word i%4; one thread per block of four.
extern "C" __global__ void philox_fill(Layout L, long long n, void* out, int to, int normal, unsigned long long seed,
                                       unsigned long long offset) {
  GRID_STRIDE(b, (n + 3) / 4) {
    unsigned int w[4];
    philox_block(seed, offset + (unsigned long long)b, w);
#pragma unroll
    for (int j = 0; j < 4; j++) {
      long long i = b * 4 + j;
      if (i >= n) break;
      float v = normal ? philox_box_muller(w[j & 2], w[(j & 2) + 1], (j & 1) == 0) : philox_uniform(w[j]);
      long long oo, u1, u2;
      offsets(L, i, oo, u1, u2);
      std_(out, to, oo, v);
    }
  }
}
#endif
