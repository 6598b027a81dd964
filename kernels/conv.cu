// Convolution as GEMM, channels-last. im2col turns x (N, H, W, Cin) into col (N*Ho*Wo, kh*kw*Cin) whose
// column order (ky, kx, ci) matches the weight layout (Cout, kh, kw, Cin); col2im is its adjoint, written as a
// gather (each input element sums the columns that read it) so it needs no atomics and is deterministic.
#include "common.cuh"

struct ConvGeom {
  int n, h, w, cin, kh, kw, ho, wo, sh, sw, pt, pl;
};

extern "C" __global__ void im2col(ConvGeom g, const void* x, int t, void* col) {
  long long kk = (long long)g.kh * g.kw * g.cin;
  long long total = (long long)g.n * g.ho * g.wo * kk;
  GRID_STRIDE(i, total) {
    long long p = i / kk;
    int q = (int)(i % kk);
    int ci = q % g.cin, kx = (q / g.cin) % g.kw, ky = q / (g.cin * g.kw);
    int ox = (int)(p % g.wo), oy = (int)((p / g.wo) % g.ho), b = (int)(p / ((long long)g.wo * g.ho));
    int iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
    float v = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? ld(x, t, (((long long)b * g.h + iy) * g.w + ix) * g.cin + ci) : 0.f;
    st(col, t, i, v);
  }
}

// dx (N, H, W, Cin) = sum over the (ky, kx) taps that read each input element of dcol.
extern "C" __global__ void col2im(ConvGeom g, const void* dcol, int tcol, void* dx, int tx) {
  long long kk = (long long)g.kh * g.kw * g.cin;
  long long total = (long long)g.n * g.h * g.w * g.cin;
  GRID_STRIDE(i, total) {
    int ci = (int)(i % g.cin), ix = (int)((i / g.cin) % g.w), iy = (int)((i / ((long long)g.cin * g.w)) % g.h);
    int b = (int)(i / ((long long)g.cin * g.w * g.h));
    float acc = 0.f;
    for (int ky = 0; ky < g.kh; ky++) {
      int ty = iy + g.pt - ky;
      if (ty < 0 || ty % g.sh != 0) continue;
      int oy = ty / g.sh;
      if (oy >= g.ho) continue;
      for (int kx = 0; kx < g.kw; kx++) {
        int tx2 = ix + g.pl - kx;
        if (tx2 < 0 || tx2 % g.sw != 0) continue;
        int ox = tx2 / g.sw;
        if (ox >= g.wo) continue;
        long long p = ((long long)b * g.ho + oy) * g.wo + ox;
        acc += ld(dcol, tcol, p * kk + ((long long)ky * g.kw + kx) * g.cin + ci);
      }
    }
    st(dx, tx, i, acc);
  }
}

// The weights of the stride-1 backward-input convolution: w (Cout, kh, kw, Cin) -> wf (kh, kw, Cout, Cin) with both
// taps reversed, wf[ky][kx][co][ci] = w[co][kh-1-ky][kw-1-kx][ci]. dx is then a stride-1 convolution of gy padded
// by (kh-1-pad): an implicit GEMM whose B operand is wf read N-major.
extern "C" __global__ void flip_weights(int cout, int kh, int kw, int cin, const void* w, int t, void* wf) {
  long long total = (long long)cout * kh * kw * cin;
  GRID_STRIDE(i, total) {
    int ci = (int)(i % cin);
    long long r = i / cin;
    int co = (int)(r % cout), kx = (int)((r / cout) % kw), ky = (int)(r / ((long long)cout * kw));
    st(wf, t, i, ld(w, t, (((long long)co * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)) * cin + ci));
  }
}
