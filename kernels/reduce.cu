// sumTo: the backward of broadcasting. Output element o sums x over the reduced dims. `K` walks the kept dims
// (x strides in st[0], output strides in st[1]), `R` the reduced dims (x strides in st[0]). Double accumulators:
// the reduced count can be millions (bias gradients over N*H*W) and the result must be order-independent enough
// to match the float64 reference at fp32 tolerance. x may be F64 (CudaBackend's own partial terms, never a user's
// tensor): read with ldd, which is exact for every dtype.
#include "common.cuh"

// One block per output element: wide reductions (few outputs).
extern "C" __global__ void sum_to_block(Layout K, Layout R, long long nOut, long long nRed, void* out, int to, const void* x, int tx) {
  __shared__ double scratch[32];
  for (long long o = blockIdx.x; o < nOut; o += gridDim.x) {
    long long xo, oo, u;
    offsets(K, o, xo, oo, u);
    double acc = 0;
    for (long long r = threadIdx.x; r < nRed; r += blockDim.x) {
      long long xr, u1, u2;
      offsets(R, r, xr, u1, u2);
      acc += ldd(x, tx, xo + xr);
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) std_(out, to, oo, acc);
  }
}

// One thread per output element: many outputs, short reductions.
extern "C" __global__ void sum_to_thread(Layout K, Layout R, long long nOut, long long nRed, void* out, int to, const void* x, int tx) {
  GRID_STRIDE(o, nOut) {
    long long xo, oo, u;
    offsets(K, o, xo, oo, u);
    double acc = 0;
    for (long long r = 0; r < nRed; r++) {
      long long xr, u1, u2;
      offsets(R, r, xr, u1, u2);
      acc += ldd(x, tx, xo + xr);
    }
    std_(out, to, oo, acc);
  }
}

// Column sums of a (rows, C) F32 matrix of partials -> out (C) in type to. Fixed order: deterministic.
extern "C" __global__ void column_sum(const float* partial, long long rows, long long c, void* out, int to) {
  GRID_STRIDE(j, c) {
    double acc = 0;
    for (long long r = 0; r < rows; r++) acc += partial[r * c + j];
    std_(out, to, j, acc);
  }
}
