// A spatio-temporal resblock's output in one pass (spec 3.4): the time mixer's blend x = alpha a + (1 - alpha) b
// (b null: x = a), then the drag FiLM x (1 + gamma) + beta (gamma null: none). Same-shape operands, contiguous but for
// gamma and beta (FilmRows); alpha is one element on the device (a trained parameter: reading it on the host would
// stall the stream).
#include "common.cuh"

// Where gamma's and beta's element i lies: they are rows of C elements (the activation's channels) gs apart, gs = C when
// contiguous, 2C where they are the two channel halves of the drag embedding as the model slices them; read in place,
// those views were copied contiguous on every call. fc = fast_divisor(C); gs != C only for n < 2^31
// (CudaBackend.filmRowStride).
struct FilmRows {
  int c;
  long long fc, gs;
  __device__ long long at(long long i) const {
    if (gs == c) return i;
    const int r = fast_div((int)i, fc);
    return r * gs + ((int)i - r * c);
  }
};

__device__ __forceinline__ float blended(long long i, const void* a, const void* b, float al, int t) {
  return b ? al * ld(a, t, i) + (1.f - al) * ld(b, t, i) : ld(a, t, i);
}

extern "C" __global__ void blend_film_forward(long long n, const void* a, const void* b, const void* alpha, int ta,
                                              const void* g, const void* beta, int c, long long fc, long long gs, void* out, int t) {
  const float al = b ? ld(alpha, ta, 0) : 1.f;
  const FilmRows rows{c, fc, gs};
  GRID_STRIDE(i, n) {
    float x = blended(i, a, b, al, t);
    if (g) {
      const long long j = rows.at(i);
      x = x * (1.f + ld(g, t, j)) + ld(beta, t, j);
    }
    st(out, t, i, x);
  }
}

// gx = gy (1 + gamma) is the blend's gradient: da = alpha gx, db = (1 - alpha) gx, dgamma = gy x, and
// terms[i] = gx (a - b), summed on the Java side to dalpha (dbeta = gy is a copy there). The terms are exact products
// in double: dalpha is one scalar summed over the whole activation, where the terms cancel, and fp32 terms left it
// 1.00e-05 off the float64 reference on one of the op harness's random inputs (a SIMT emulator run, 2026-12-02).
extern "C" __global__ void blend_film_backward(long long n, const void* a, const void* b, const void* alpha, int ta,
                                               const void* g, int c, long long fc, long long gs, int t, const void* gy, int tg,
                                               void* da, void* db, void* dg, double* terms) {
  const float al = b ? ld(alpha, ta, 0) : 1.f;
  const FilmRows rows{c, fc, gs};
  GRID_STRIDE(i, n) {
    const float gi = g ? ld(g, t, rows.at(i)) : 0.f;
    float go = ld(gy, tg, i), gx = g ? go * (1.f + gi) : go;
    if (g) st(dg, tg, i, go * blended(i, a, b, al, t));
    if (!b) { st(da, tg, i, gx); continue; }
    st(da, tg, i, gx * al);
    st(db, tg, i, gx * (1.f - al));
    terms[i] = (double)go * (g ? 1.0 + gi : 1.0) * ((double)ld(a, t, i) - ld(b, t, i));
  }
}
