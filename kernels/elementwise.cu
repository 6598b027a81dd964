// Elementwise ops over strided views with broadcasting (stride 0). Op codes are the Java enum ordinals
// (BinaryOp, UnaryOp); formulas follow their apply/derivative methods. fp32 arithmetic.
#include "common.cuh"

// out[st0] = a[st1] (op) b[st2]. out may alias a (in-place bias add).
extern "C" __global__ void binary(Layout L, long long n, int op, void* out, const void* a, const void* b, int t) {
  GRID_STRIDE(i, n) {
    long long oo, oa, ob;
    offsets(L, i, oo, oa, ob);
    float x = ld(a, t, oa), y = ld(b, t, ob), r;
    switch (op) {
      case 0: r = x + y; break;
      case 1: r = x - y; break;
      case 2: r = x * y; break;
      default: r = x / y;
    }
    st(out, t, oo, r);
  }
}

__device__ __forceinline__ float unary_f(int op, float x) {
  switch (op) {
    case 0: return -x;
    case 1: return expf(x);
    case 2: return logf(x);
    case 3: return x * x;
    case 4: return sqrtf(x);
    case 5: return sigmoidf_(x);
    case 6: return x * sigmoidf_(x);
    case 7: return geluf_(x);
    case 8: return sinf(x);
    case 9: return cosf(x);
    default: return x > 0.f ? 1.f : 0.f;  // STEP
  }
}

__device__ __forceinline__ float unary_d(int op, float x) {
  switch (op) {
    case 0: return -1.f;
    case 1: return expf(x);
    case 2: return 1.f / x;
    case 3: return 2.f * x;
    case 4: return 0.5f / sqrtf(x);
    case 5: { float s = sigmoidf_(x); return s * (1.f - s); }
    case 6: { float s = sigmoidf_(x); return s * (1.f + x * (1.f - s)); }
    case 7: return gelu_grad(x);
    case 8: return cosf(x);
    case 9: return -sinf(x);
    default: return 0.f;
  }
}

// out[st0] = op(x[st1]); out has type to, x type tx.
extern "C" __global__ void unary(Layout L, long long n, int op, void* out, int to, const void* x, int tx) {
  GRID_STRIDE(i, n) {
    long long oo, ox, u;
    offsets(L, i, oo, ox, u);
    st(out, to, oo, unary_f(op, ld(x, tx, ox)));
  }
}

// out[st0] = gy[st2] * op'(x[st1]).
extern "C" __global__ void unary_backward(Layout L, long long n, int op, void* out, int to, const void* x, int tx, const void* gy, int tg) {
  GRID_STRIDE(i, n) {
    long long oo, ox, og;
    offsets(L, i, oo, ox, og);
    st(out, to, oo, ld(gy, tg, og) * unary_d(op, ld(x, tx, ox)));
  }
}

// out[st0] = x[st1] * scale + shift (double coefficients: EDM scalings can be far from 1).
extern "C" __global__ void affine(Layout L, long long n, void* out, int to, const void* x, int tx, double scale, double shift) {
  GRID_STRIDE(i, n) {
    long long oo, ox, u;
    offsets(L, i, oo, ox, u);
    std_(out, to, oo, (double)ld(x, tx, ox) * scale + shift);
  }
}

// affine with the coefficients read from a device vector (CUDA graphs: read at replay, not baked into the launch):
// the same expression as affine, so equal coefficients give bit-identical results. shift_at < 0: shift 0.
extern "C" __global__ void affine_dev(Layout L, long long n, void* out, int to, const void* x, int tx, const double* coef,
                                      int scale_at, int shift_at) {
  double scale = coef[scale_at], shift = shift_at < 0 ? 0.0 : coef[shift_at];
  GRID_STRIDE(i, n) {
    long long oo, ox, u;
    offsets(L, i, oo, ox, u);
    std_(out, to, oo, (double)ld(x, tx, ox) * scale + shift);
  }
}

// out[st0] = min(max(x[st1], lo), hi) as torch.clamp: infinities become the bounds, NaN stays NaN (it fails both
// comparisons). Bounds in double, the stored bound rounded once, as the CPU reference.
extern "C" __global__ void clamp(Layout L, long long n, void* out, int to, const void* x, int tx, double lo, double hi) {
  GRID_STRIDE(i, n) {
    long long oo, ox, u;
    offsets(L, i, oo, ox, u);
    const double v = (double)ld(x, tx, ox);
    std_(out, to, oo, v < lo ? lo : v > hi ? hi : v);
  }
}

// y[st0] = a * x[st1] + b * y[st0], in place.
extern "C" __global__ void axpby(Layout L, long long n, double a, const void* x, int tx, double b, void* y, int ty) {
  GRID_STRIDE(i, n) {
    long long oy, ox, u;
    offsets(L, i, oy, ox, u);
    std_(y, ty, oy, a * (double)ld(x, tx, ox) + b * (double)ld(y, ty, oy));
  }
}
