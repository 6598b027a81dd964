// Host check of kernels/attention_mma.cu (no GPU needed): runs the kernels' block / warp / tile schedules on the CPU
// with their own tile copies, fragment slots and p_frag, ldmatrix and mma.sync emulated (mma_emulation.h), the online
// softmax and the dS algebra re-done per lane as the kernels do them, and compares the forward (out, lse) and the
// backward (dq, dk, dv) with plain double-precision attention and its gradients. Shapes cover ragged query and key
// tiles, several heads and the all-to-first batch mapping (Bq = frames x videos, Bk = videos).
//   nvcc -std=c++17 -arch=sm_80 -o /tmp/amc kernels/check/attention_mma_host_check.cu && /tmp/amc
#include "../attention_mma.cu"
#include "mma_emulation.h"
#include <math.h>
#include <vector>

using attn::BKV;
using attn::BQ;
using attn::CPR;
using attn::D;
using attn::TILE_CHUNKS;
typedef std::vector<float> Vec;
typedef float Acc[8][32][4];    // a warp's 16 x 64 accumulator: n8 tile, lane, element
typedef float Frags[4][32][4][2];  // a warp's 16 x 64 A operand: k16 step, lane, register, half

// load_tile on the host, thread by thread (attn::Copies): rows row0.. of one head's channels, zero past `rows`. Fails
// a slot written twice or left unwritten.
static void load(Chunk* s, const Vec& x, long long row0, int rows, int c, int h) {
  std::vector<bool> written(TILE_CHUNKS);
  for (int tid = 0; tid < attn::THREADS; tid++) {
    const attn::Copies copies(tid);
    for (int it = 0; it < attn::Copies::COPIES; it++) {
      const int r = copies.row(it), dst = copies.slot(it);
      if (dst < 0 || dst >= TILE_CHUNKS || written[dst]) { printf("FAIL: tile slot %d written twice or out of range\n", dst); exit(1); }
      written[dst] = true;
      for (int e = 0; e < 8; e++) s[dst][e] = r < rows ? x[(row0 + r) * c + h * D + copies.c * 8 + e] : 0.f;
    }
  }
  for (bool w : written)
    if (!w) { printf("FAIL: a tile slot no thread wrote\n"); exit(1); }
}

static void tile_to_a(const Chunk* tile, int warp, Frags& a) {
  for (int kk = 0; kk < 4; kk++) {
    int slots[32];
    for (int l = 0; l < 32; l++) slots[l] = mma::a_frag_slot<true, CPR>(l, warp * 16, kk * 16);
    ldmatrix(a[kk], tile, slots, false);
  }
}

static void acc_to_a(const Acc& s, Frags& a) {
  for (int kk = 0; kk < 4; kk++)
    for (int l = 0; l < 32; l++)
      for (int reg = 0; reg < 4; reg++)
        for (int half = 0; half < 2; half++) {
          int t, e;
          attn::p_frag(kk, reg, half, t, e);
          a[kk][l][reg][half] = s[t][l][e];
        }
}

template <bool KMAJOR_B>
static void warp_mma(Acc& acc, const Frags& a, const Chunk* tile) {
  for (int kk = 0; kk < 4; kk++)
    for (int p = 0; p < 4; p++) {
      int slots[32];
      float r[32][4][2], b0[32][2][2], b1[32][2][2];
      for (int l = 0; l < 32; l++) slots[l] = mma::b_frag_slot<KMAJOR_B, CPR>(l, p * 16, kk * 16);
      ldmatrix(r, tile, slots, !KMAJOR_B);
      for (int l = 0; l < 32; l++)
        for (int x = 0; x < 2; x++) b0[l][0][x] = r[l][0][x], b0[l][1][x] = r[l][1][x], b1[l][0][x] = r[l][2][x], b1[l][1][x] = r[l][3][x];
      mma_emul(acc[2 * p], a[kk], b0);
      mma_emul(acc[2 * p + 1], a[kk], b1);
    }
}

static void zero(Acc& a) {
  for (auto& n : a) for (auto& l : n) for (auto& e : l) e = 0;
}

struct Problem {
  int bq, lq, bk, lk, heads, c;
  float scale;
  Vec q, k, v, go;
  // reference, double: out, lse (natural), delta = rowsum(go * out), dq, dk, dv
  std::vector<double> out, lse, delta, dq, dk, dv;
};

static Problem make(int bq, int lq, int bk, int lk, int heads, unsigned seed) {
  srand(seed);
  Problem P{bq, lq, bk, lk, heads, heads * D, 1.f / sqrtf((float)D)};
  P.q.resize((size_t)bq * lq * P.c), P.go.resize(P.q.size()), P.k.resize((size_t)bk * lk * P.c), P.v.resize(P.k.size());
  for (auto* x : {&P.q, &P.k, &P.v, &P.go})
    for (auto& e : *x) e = (float)(rand() % 2001 - 1000) / 1000.f;
  int c = P.c;
  P.out.assign(P.q.size(), 0), P.dq.assign(P.q.size(), 0), P.dk.assign(P.k.size(), 0), P.dv.assign(P.k.size(), 0);
  P.lse.assign((size_t)bq * heads * lq, 0), P.delta.assign(P.lse.size(), 0);
  for (int bi = 0; bi < bq; bi++)
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < lq; i++) {
        int bj = bi / (bq / bk);
        auto Q = [&](int e) { return (double)P.q[((size_t)bi * lq + i) * c + h * D + e]; };
        auto G = [&](int e) { return (double)P.go[((size_t)bi * lq + i) * c + h * D + e]; };
        auto K = [&](int j, int e) { return (double)P.k[((size_t)bj * lk + j) * c + h * D + e]; };
        auto V = [&](int j, int e) { return (double)P.v[((size_t)bj * lk + j) * c + h * D + e]; };
        std::vector<double> sc(lk), p(lk), dp(lk);
        double mx = -1e300, z = 0;
        for (int j = 0; j < lk; j++) {
          double d = 0;
          for (int e = 0; e < D; e++) d += Q(e) * K(j, e);
          sc[j] = d * P.scale;
          mx = fmax(mx, sc[j]);
        }
        for (int j = 0; j < lk; j++) z += exp(sc[j] - mx);
        for (int j = 0; j < lk; j++) p[j] = exp(sc[j] - mx) / z;
        size_t row = ((size_t)bi * lq + i) * c + h * D, si = ((size_t)bi * heads + h) * lq + i;
        P.lse[si] = mx + log(z);
        double delta = 0;
        for (int e = 0; e < D; e++) {
          double o = 0;
          for (int j = 0; j < lk; j++) o += p[j] * V(j, e);
          P.out[row + e] = o;
          delta += o * G(e);
        }
        P.delta[si] = delta;
        for (int j = 0; j < lk; j++) {
          double d = 0;
          for (int e = 0; e < D; e++) d += G(e) * V(j, e);
          double ds = p[j] * (d - delta) * P.scale;
          for (int e = 0; e < D; e++) {
            P.dq[row + e] += ds * K(j, e);
            P.dk[((size_t)bj * lk + j) * c + h * D + e] += ds * Q(e);
            P.dv[((size_t)bj * lk + j) * c + h * D + e] += p[j] * G(e);
          }
        }
      }
  return P;
}

static bool report(const char* what, const Problem& P, const Vec& got, const std::vector<double>& ref, double tol) {
  double num = 0, den = 0;
  int nan = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    if (isnan(got[i])) nan++;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  double rel = sqrt(num / den);
  bool bad = nan > 0 || !(rel < tol);
  printf("%s %-8s Bq=%d Lq=%d Bk=%d Lk=%d heads=%d: rel err %.2e, %d unwritten\n", bad ? "FAIL" : "ok  ", what, P.bq, P.lq, P.bk,
         P.lk, P.heads, rel, nan);
  return bad;
}

static int forward(const Problem& P) {
  int c = P.c, lq = P.lq, lk = P.lk;
  float sl2 = P.scale * 1.4426950408889634f;
  Vec out(P.q.size(), NAN), lse(P.lse.size(), NAN);
  static Chunk qs[TILE_CHUNKS], ks[TILE_CHUNKS], vs[TILE_CHUNKS];
  for (int bi = 0; bi < P.bq; bi++)
    for (int h = 0; h < P.heads; h++)
      for (int q0 = 0; q0 < lq; q0 += BQ) {
        int bj = bi / (P.bq / P.bk);
        load(qs, P.q, (long long)bi * lq + q0, lq - q0, c, h);
        for (int warp = 0; warp < 4; warp++) {
          static Frags qf, pa;
          static Acc o, s;
          tile_to_a(qs, warp, qf);
          zero(o);
          float m[32][2], lsum[32][2];
          for (int l = 0; l < 32; l++) m[l][0] = m[l][1] = -INFINITY, lsum[l][0] = lsum[l][1] = 0;
          for (int j0 = 0; j0 < lk; j0 += BKV) {
            load(ks, P.k, (long long)bj * lk + j0, lk - j0, c, h);
            load(vs, P.v, (long long)bj * lk + j0, lk - j0, c, h);
            zero(s);
            warp_mma<true>(s, qf, ks);
            float mx[32][2];  // online softmax per lane; quad reductions as __shfl_xor 1, 2 do them
            for (int l = 0; l < 32; l++) {
              mx[l][0] = m[l][0], mx[l][1] = m[l][1];
              for (int n = 0; n < 8; n++)
                for (int e = 0; e < 4; e++) {
                  float x = j0 + n * 8 + mma::acc_col(l, e) < lk ? s[n][l][e] * sl2 : -INFINITY;
                  s[n][l][e] = x;
                  mx[l][e / 2] = fmaxf(mx[l][e / 2], x);
                }
            }
            for (int l = 0; l < 32; l++)
              for (int r = 0; r < 2; r++) {
                int g = l & ~3;
                float qm = fmaxf(fmaxf(mx[g][r], mx[g + 1][r]), fmaxf(mx[g + 2][r], mx[g + 3][r]));
                float corr = exp2f(m[l][r] - qm);
                m[l][r] = qm;
                lsum[l][r] *= corr;
                for (int n = 0; n < 8; n++) o[n][l][2 * r] *= corr, o[n][l][2 * r + 1] *= corr;
              }
            for (int l = 0; l < 32; l++)
              for (int n = 0; n < 8; n++)
                for (int e = 0; e < 4; e++) {
                  float p = exp2f(s[n][l][e] - m[l][e / 2]);
                  s[n][l][e] = p;
                  lsum[l][e / 2] += p;
                }
            acc_to_a(s, pa);
            warp_mma<false>(o, pa, vs);
          }
          for (int l = 0; l < 32; l++)
            for (int r = 0; r < 2; r++) {
              int g = l & ~3;
              float tot = lsum[g][r] + lsum[g + 1][r] + lsum[g + 2][r] + lsum[g + 3][r];
              int row = q0 + warp * 16 + l / 4 + r * 8;
              if (row >= lq) continue;
              for (int n = 0; n < 8; n++)
                for (int x = 0; x < 2; x++)
                  out[((size_t)bi * lq + row) * c + h * D + n * 8 + mma::acc_col(l, 2 * r + x)] = o[n][l][2 * r + x] * (1.f / tot);
              if (l % 4 == 0) lse[((size_t)bi * P.heads + h) * lq + row] = (m[l][r] + log2f(tot)) * 0.6931471805599453f;
            }
        }
      }
  return report("out", P, out, P.out, 1e-5) + report("lse", P, lse, P.lse, 1e-6);
}

// backward_dq and backward_dkv, with the reference lse and delta as their inputs (as attention_delta would give).
static int backward(const Problem& P) {
  int c = P.c, lq = P.lq, lk = P.lk, rep = P.bq / P.bk;
  float l2e = 1.4426950408889634f, sl2 = P.scale * l2e;
  Vec dq(P.q.size(), NAN), dk(P.k.size(), NAN), dv(P.k.size(), NAN);
  static Chunk qs[TILE_CHUNKS], gs[TILE_CHUNKS], ks[TILE_CHUNKS], vs[TILE_CHUNKS];
  static Frags qf, gf, kf, vf, pa, dsa;
  static Acc s, dp, acc, acc2;
  for (int bi = 0; bi < P.bq; bi++)  // backward_dq
    for (int h = 0; h < P.heads; h++)
      for (int q0 = 0; q0 < lq; q0 += BQ) {
        int bj = bi / rep;
        load(qs, P.q, (long long)bi * lq + q0, lq - q0, c, h);
        load(gs, P.go, (long long)bi * lq + q0, lq - q0, c, h);
        for (int warp = 0; warp < 4; warp++) {
          tile_to_a(qs, warp, qf);
          tile_to_a(gs, warp, gf);
          zero(acc);
          for (int j0 = 0; j0 < lk; j0 += BKV) {
            load(ks, P.k, (long long)bj * lk + j0, lk - j0, c, h);
            load(vs, P.v, (long long)bj * lk + j0, lk - j0, c, h);
            zero(s), zero(dp);
            warp_mma<true>(s, qf, ks);
            warp_mma<true>(dp, gf, vs);
            for (int l = 0; l < 32; l++)
              for (int n = 0; n < 8; n++)
                for (int e = 0; e < 4; e++) {
                  int row = q0 + warp * 16 + mma::acc_row(l, e);
                  size_t si = ((size_t)bi * P.heads + h) * lq + row;
                  float lr = row < lq ? (float)P.lse[si] * l2e : 0.f, dr = row < lq ? (float)P.delta[si] : 0.f;
                  float p = j0 + n * 8 + mma::acc_col(l, e) < lk ? exp2f(s[n][l][e] * sl2 - lr) : 0.f;
                  s[n][l][e] = p * (dp[n][l][e] - dr) * P.scale;
                }
            acc_to_a(s, dsa);
            warp_mma<false>(acc, dsa, ks);
          }
          for (int l = 0; l < 32; l++)
            for (int n = 0; n < 8; n++)
              for (int e = 0; e < 4; e++) {
                int row = q0 + warp * 16 + mma::acc_row(l, e);
                if (row < lq) dq[((size_t)bi * lq + row) * c + h * D + n * 8 + mma::acc_col(l, e)] = acc[n][l][e];
              }
        }
      }
  for (int bj = 0; bj < P.bk; bj++)  // backward_dkv
    for (int h = 0; h < P.heads; h++)
      for (int k0 = 0; k0 < lk; k0 += BKV) {
        load(ks, P.k, (long long)bj * lk + k0, lk - k0, c, h);
        load(vs, P.v, (long long)bj * lk + k0, lk - k0, c, h);
        for (int warp = 0; warp < 4; warp++) {
          tile_to_a(ks, warp, kf);
          tile_to_a(vs, warp, vf);
          zero(acc), zero(acc2);  // dK, dV
          for (int bi = bj * rep; bi < (bj + 1) * rep; bi++)
            for (int i0 = 0; i0 < lq; i0 += BQ) {
              load(qs, P.q, (long long)bi * lq + i0, lq - i0, c, h);
              load(gs, P.go, (long long)bi * lq + i0, lq - i0, c, h);
              zero(s), zero(dp);
              warp_mma<true>(s, kf, qs);
              warp_mma<true>(dp, vf, gs);
              for (int l = 0; l < 32; l++)
                for (int n = 0; n < 8; n++)
                  for (int e = 0; e < 4; e++) {
                    int col = n * 8 + mma::acc_col(l, e), i = i0 + col;
                    size_t si = ((size_t)bi * P.heads + h) * lq + i;
                    float p = i < lq ? exp2f(s[n][l][e] * sl2 - (float)P.lse[si] * l2e) : 0.f;
                    s[n][l][e] = p;
                    dp[n][l][e] = i < lq ? p * (dp[n][l][e] - (float)P.delta[si]) * P.scale : 0.f;
                  }
              acc_to_a(s, pa);
              acc_to_a(dp, dsa);
              warp_mma<false>(acc2, pa, gs);
              warp_mma<false>(acc, dsa, qs);
            }
          for (int l = 0; l < 32; l++)
            for (int n = 0; n < 8; n++)
              for (int e = 0; e < 4; e++) {
                int row = k0 + warp * 16 + mma::acc_row(l, e);
                if (row >= lk) continue;
                size_t o = ((size_t)bj * lk + row) * c + h * D + n * 8 + mma::acc_col(l, e);
                dk[o] = acc[n][l][e];
                dv[o] = acc2[n][l][e];
              }
        }
      }
  return report("dq", P, dq, P.dq, 1e-5) + report("dk", P, dk, P.dk, 1e-5) + report("dv", P, dv, P.dv, 1e-5);
}

int main() {
  // spatial all-to-first (frames of 2 videos read their video's frame 0), ragged tiles; cross-attention to 6
  // tokens; temporal (14 frames as keys); two key tiles.
  const int cases[][5] = {{6, 100, 2, 100, 2}, {4, 70, 4, 6, 1}, {3, 14, 3, 14, 3}, {2, 64, 1, 128, 1}};
  int fails = 0;
  unsigned seed = 1;
  for (auto& cs : cases) {
    Problem P = make(cs[0], cs[1], cs[2], cs[3], cs[4], seed++);
    fails += forward(P) + backward(P);
  }
  printf(fails ? "%d FAILED\n" : "all attention cases passed\n", fails);
  return fails != 0;
}
