// GEGLU: p (rows, 2D) -> p[:, :D] * gelu(p[:, D:]) with the exact erf GELU. Contiguous operands.
#include "common.cuh"

extern "C" __global__ void geglu_forward(long long rows, int d, const void* p, int t, void* out) {
  GRID_STRIDE(i, rows * d) {
    long long r = i / d, j = i % d;
    st(out, t, i, ld(p, t, r * 2 * d + j) * geluf_(ld(p, t, r * 2 * d + d + j)));
  }
}

extern "C" __global__ void geglu_backward(long long rows, int d, const void* p, int t, const void* gy, int tg, void* dp) {
  GRID_STRIDE(i, rows * d) {
    long long r = i / d, j = i % d;
    float a = ld(p, t, r * 2 * d + j), gate = ld(p, t, r * 2 * d + d + j), go = ld(gy, tg, i);
    st(dp, tg, r * 2 * d + j, go * geluf_(gate));
    st(dp, tg, r * 2 * d + d + j, go * a * gelu_grad(gate));
  }
}
