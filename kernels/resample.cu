// Nearest 2x upsampling (N, H, W, C) -> (N, 2H, 2W, C) and its adjoint (sum of each 2x2 block). Contiguous.
#include "common.cuh"

extern "C" __global__ void upsample2x_forward(int n, int h, int w, int c, const void* x, int t, void* y) {
  long long total = 4LL * n * h * w * c;
  GRID_STRIDE(i, total) {
    int ch = (int)(i % c), ox = (int)((i / c) % (2 * w)), oy = (int)((i / ((long long)c * 2 * w)) % (2 * h));
    long long b = i / ((long long)c * 4 * w * h);
    st(y, t, i, ld(x, t, ((b * h + oy / 2) * w + ox / 2) * c + ch));
  }
}

// gy (N, 2H, 2W, C) -> dx (N, H, W, C).
extern "C" __global__ void upsample2x_backward(int n, int h, int w, int c, const void* gy, int t, void* dx) {
  long long total = (long long)n * h * w * c;
  GRID_STRIDE(i, total) {
    int ch = (int)(i % c), x = (int)((i / c) % w), y = (int)((i / ((long long)c * w)) % h);
    long long b = i / ((long long)c * w * h);
    float acc = 0.f;
    for (int dy = 0; dy < 2; dy++)
      for (int dxx = 0; dxx < 2; dxx++) acc += ld(gy, t, ((b * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dxx) * c + ch);
    st(dx, t, i, acc);
  }
}
