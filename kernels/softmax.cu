// Softmax over the last dim of contiguous (rows, C): one block per row, fp32 with max subtraction.
#include "common.cuh"

extern "C" __global__ void softmax_forward(long long rows, int c, const void* x, int t, void* y) {
  __shared__ float scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const long long o = r * c;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < c; j += blockDim.x) mx = fmaxf(mx, ld(x, t, o + j));
    mx = block_max(mx, scratch);
    float sum = 0.f;
    for (int j = threadIdx.x; j < c; j += blockDim.x) sum += expf(ld(x, t, o + j) - mx);
    sum = block_sum(sum, scratch);
    float inv = 1.f / sum;
    for (int j = threadIdx.x; j < c; j += blockDim.x) st(y, t, o + j, expf(ld(x, t, o + j) - mx) * inv);
  }
}

// dx = y * (gy - sum(y * gy)).
extern "C" __global__ void softmax_backward(long long rows, int c, const void* y, int t, const void* gy, int tg, void* dx) {
  __shared__ float scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const long long o = r * c;
    float dot = 0.f;
    for (int j = threadIdx.x; j < c; j += blockDim.x) dot += ld(y, t, o + j) * ld(gy, tg, o + j);
    dot = block_sum(dot, scratch);
    for (int j = threadIdx.x; j < c; j += blockDim.x) st(dx, tg, o + j, ld(y, t, o + j) * (ld(gy, tg, o + j) - dot));
  }
}
