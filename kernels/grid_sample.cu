// Bilinear samples of feat (N, H, W, C) at K normalised points (u, v) = (x / width, y / height) per sample:
// grid_sample with align_corners=false and border padding. Points are F32 (N, K, 2); feat/output contiguous.
#include "common.cuh"

struct Corners { int x0, y0, x1, y1; float ax, ay; };

// Clamps to [0, hi] and keeps a NaN (fminf/fmaxf would turn it into a border sample): a NaN point gives NaN, as in
// the CPU reference, instead of a plausible value from pixel (0, 0).
__device__ __forceinline__ float clamp_nan(float p, float hi) { return p < 0.f ? 0.f : p > hi ? hi : p; }

__device__ __forceinline__ Corners corners(float u, float v, int h, int w) {
  float px = clamp_nan(u * w - 0.5f, (float)(w - 1)), py = clamp_nan(v * h - 0.5f, (float)(h - 1));
  Corners r;
  float fx = floorf(px), fy = floorf(py);
  r.x0 = fx == fx ? (int)fx : 0; r.y0 = fy == fy ? (int)fy : 0;   // NaN: an in-bounds index (C++ leaves (int)NaN undefined)
  r.x1 = min(r.x0 + 1, w - 1); r.y1 = min(r.y0 + 1, h - 1);
  r.ax = px - fx; r.ay = py - fy;
  return r;
}

extern "C" __global__ void grid_sample_forward(int n, int h, int w, int c, int k, const void* feat, int t, const float* pts, void* out) {
  GRID_STRIDE(i, (long long)n * k * c) {
    int ch = (int)(i % c);
    long long bk = i / c, b = bk / k;
    Corners q = corners(pts[bk * 2], pts[bk * 2 + 1], h, w);
    long long base = b * h * w;
    float v00 = ld(feat, t, (base + (long long)q.y0 * w + q.x0) * c + ch), v01 = ld(feat, t, (base + (long long)q.y0 * w + q.x1) * c + ch);
    float v10 = ld(feat, t, (base + (long long)q.y1 * w + q.x0) * c + ch), v11 = ld(feat, t, (base + (long long)q.y1 * w + q.x1) * c + ch);
    st(out, t, i, (1.f - q.ay) * ((1.f - q.ax) * v00 + q.ax * v01) + q.ay * ((1.f - q.ax) * v10 + q.ax * v11));
  }
}

// Scatter of gy (N, K, C) into a zeroed F32 dfeat (N, H, W, C): one thread per (n, c) walks the K points in order,
// so no two threads touch one element and the sum order is fixed (deterministic, no atomics).
extern "C" __global__ void grid_sample_backward(int n, int h, int w, int c, int k, const void* gy, int tg, const float* pts, float* dfeat) {
  GRID_STRIDE(i, (long long)n * c) {
    int ch = (int)(i % c);
    long long b = i / c, base = b * h * w;
    for (int j = 0; j < k; j++) {
      long long bk = b * k + j;
      Corners q = corners(pts[bk * 2], pts[bk * 2 + 1], h, w);
      float go = ld(gy, tg, bk * c + ch);
      dfeat[(base + (long long)q.y0 * w + q.x0) * c + ch] += (1.f - q.ay) * (1.f - q.ax) * go;
      dfeat[(base + (long long)q.y0 * w + q.x1) * c + ch] += (1.f - q.ay) * q.ax * go;
      dfeat[(base + (long long)q.y1 * w + q.x0) * c + ch] += q.ay * (1.f - q.ax) * go;
      dfeat[(base + (long long)q.y1 * w + q.x1) * c + ch] += q.ay * q.ax * go;
    }
  }
}
