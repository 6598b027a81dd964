// FiLM modulation x * (1 + gamma) + beta (the drag embedding's feature modulation), contiguous same-shape operands.
#include "common.cuh"

extern "C" __global__ void film_forward(long long n, const void* x, const void* g, const void* b, void* out, int t) {
  GRID_STRIDE(i, n) st(out, t, i, ld(x, t, i) * (1.f + ld(g, t, i)) + ld(b, t, i));
}

// dx = gy * (1 + gamma), dgamma = gy * x (dbeta = gy is a copy on the Java side).
extern "C" __global__ void film_backward(long long n, const void* x, const void* g, const void* gy, int t, void* dx, void* dg, int tg) {
  GRID_STRIDE(i, n) {
    float go = ld(gy, tg, i);
    st(dx, tg, i, go * (1.f + ld(g, t, i)));
    st(dg, tg, i, go * ld(x, t, i));
  }
}
