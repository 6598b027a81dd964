// Fused Adam / AdamW step for one parameter tensor: fp32 master weights and moments, gradient of any float
// type times gradScale, optional low-precision model copy written in the same pass. Same formula and
// order as CpuBackend.adamStep; double arithmetic (an update is tiny next to the weight).
#include "common.cuh"

extern "C" __global__ void adam_step(long long n, float* p, const void* g, int tg, float* m, float* v, void* low, int tl, double lr,
                                     double b1, double b2, double eps, double wd, int decoupled, double bc1, double bc2, double gradScale) {
  GRID_STRIDE(i, n) {
    double w = p[i], gi = (double)ld(g, tg, i) * gradScale;
    if (wd != 0.0) {
      if (decoupled) w *= 1.0 - lr * wd;
      else gi += wd * w;
    }
    double mi = b1 * m[i] + (1.0 - b1) * gi, vi = b2 * v[i] + (1.0 - b2) * gi * gi;
    w -= lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + eps);
    p[i] = (float)w;
    m[i] = (float)mi;
    v[i] = (float)vi;
    if (low) std_(low, tl, i, w);
  }
}
