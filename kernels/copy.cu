// copy/cast between any two element types over strided views (copy, copyInto, contiguous, concat slots), and fill.
// copy16: the same-dtype copies whose rows are whole 16-byte chunks.
#include "common.cuh"

// out[L.st0] = in[L.st1]; through double so every type pair converts like the CPU reference.
extern "C" __global__ void copy_cast(Layout L, long long n, void* out, int to, const void* in, int ti) {
  GRID_STRIDE(i, n) {
    long long oo, oi, unused;
    offsets(L, i, oo, oi, unused);
    if (to == ti && to <= DT_F16) st(out, to, oo, ld(in, ti, oi));  // exact: the float holds any f32/bf16/f16
    else std_(out, to, oo, ldd(in, ti, oi));
  }
}

// A same-dtype copy in 16-byte chunks: L counts chunks (CudaBackend.copyKernel sends one here when the innermost dim is
// contiguous on both sides in whole, 16-byte-aligned chunks, e.g. a permuted view of channels-last activations made
// contiguous). One 16-byte load and store per thread where copy_cast moves one element (2 bytes for bf16) with its own
// offsets and dtype switch; the bytes are copied as they are.
extern "C" __global__ void copy16(Layout L, long long n, uint4* out, const uint4* in) {
  GRID_STRIDE(i, n) {
    long long oo, oi, unused;
    offsets(L, i, oo, oi, unused);
    out[oo] = in[oi];
  }
}

extern "C" __global__ void fill(Layout L, long long n, void* out, int to, double value) {
  GRID_STRIDE(i, n) {
    long long oo, u1, u2;
    offsets(L, i, oo, u1, u2);
    std_(out, to, oo, value);
  }
}
