// Host check of kernels/attention_mma.cu (no GPU needed): runs the kernel's block / warp / key-tile schedule on the
// CPU with its own tile_chunk, fragment slots and p_frag, ldmatrix and mma.sync emulated (mma_emulation.h), the
// online softmax re-done per lane as the kernel does it (quad max / sum), and compares out and lse with a plain
// double-precision softmax attention. Shapes cover ragged query and key tiles, several heads and the all-to-first
// batch mapping (Bq = frames x videos, Bk = videos).
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

// load_tile on the host: rows row0.. of one head's channels, zero past `rows`.
static void load(Chunk* s, const std::vector<float>& x, long long row0, int rows, int c, int h) {
  for (int i = 0; i < TILE_CHUNKS; i++) {
    int r, ch, dst = attn::tile_chunk(i, r, ch);
    for (int e = 0; e < 8; e++) s[dst][e] = r < rows ? x[(row0 + r) * c + h * D + ch * 8 + e] : 0.f;
  }
}

static int check(int bq, int lq, int bk, int lk, int heads, unsigned seed) {
  srand(seed);
  int c = heads * D;
  std::vector<float> q((size_t)bq * lq * c), k((size_t)bk * lk * c), v(k.size());
  for (auto* x : {&q, &k, &v})
    for (auto& e : *x) e = (float)(rand() % 2001 - 1000) / 1000.f;
  float scale = 1.f / sqrtf((float)D), sl2 = scale * 1.4426950408889634f;
  std::vector<float> out(q.size(), NAN), lse((size_t)bq * heads * lq, NAN);
  static Chunk qs[TILE_CHUNKS], ks[TILE_CHUNKS], vs[TILE_CHUNKS];
  for (int bi = 0; bi < bq; bi++)
    for (int h = 0; h < heads; h++)
      for (int q0 = 0; q0 < lq; q0 += BQ) {
        int bj = bi / (bq / bk);
        load(qs, q, (long long)bi * lq + q0, lq - q0, c, h);
        for (int warp = 0; warp < 4; warp++) {
          static float qf[4][32][4][2];
          for (int kk = 0; kk < 4; kk++) {
            int slots[32];
            for (int l = 0; l < 32; l++) slots[l] = mma::a_frag_slot<true, CPR>(l, warp * 16, kk * 16);
            ldmatrix(qf[kk], qs, slots, false);
          }
          static float o[8][32][4];
          float m[32][2], lsum[32][2];
          for (int n = 0; n < 8; n++) for (int l = 0; l < 32; l++) for (int e = 0; e < 4; e++) o[n][l][e] = 0;
          for (int l = 0; l < 32; l++) m[l][0] = m[l][1] = -INFINITY, lsum[l][0] = lsum[l][1] = 0;
          for (int j0 = 0; j0 < lk; j0 += BKV) {
            load(ks, k, (long long)bj * lk + j0, lk - j0, c, h);
            load(vs, v, (long long)bj * lk + j0, lk - j0, c, h);
            static float s[8][32][4];
            for (int n = 0; n < 8; n++) for (int l = 0; l < 32; l++) for (int e = 0; e < 4; e++) s[n][l][e] = 0;
            for (int kk = 0; kk < 4; kk++)
              for (int p = 0; p < 4; p++) {
                int slots[32];
                float r[32][4][2], b0[32][2][2], b1[32][2][2];
                for (int l = 0; l < 32; l++) slots[l] = mma::b_frag_slot<true, CPR>(l, p * 16, kk * 16);
                ldmatrix(r, ks, slots, false);
                for (int l = 0; l < 32; l++)
                  for (int x = 0; x < 2; x++) b0[l][0][x] = r[l][0][x], b0[l][1][x] = r[l][1][x], b1[l][0][x] = r[l][2][x], b1[l][1][x] = r[l][3][x];
                mma_emul(s[2 * p], qf[kk], b0);
                mma_emul(s[2 * p + 1], qf[kk], b1);
              }
            // online softmax, per lane, rows lane/4 (+8), quad reductions as __shfl_xor 1, 2 do them
            float mx[32][2];
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
            for (int kk = 0; kk < 4; kk++) {
              static float a[32][4][2];
              for (int l = 0; l < 32; l++)
                for (int reg = 0; reg < 4; reg++)
                  for (int half = 0; half < 2; half++) {
                    int t, e;
                    attn::p_frag(kk, reg, half, t, e);
                    a[l][reg][half] = s[t][l][e];
                  }
              for (int p = 0; p < 4; p++) {
                int slots[32];
                float r[32][4][2], b0[32][2][2], b1[32][2][2];
                for (int l = 0; l < 32; l++) slots[l] = mma::b_frag_slot<false, CPR>(l, p * 16, kk * 16);
                ldmatrix(r, vs, slots, true);
                for (int l = 0; l < 32; l++)
                  for (int x = 0; x < 2; x++) b0[l][0][x] = r[l][0][x], b0[l][1][x] = r[l][1][x], b1[l][0][x] = r[l][2][x], b1[l][1][x] = r[l][3][x];
                mma_emul(o[2 * p], a, b0);
                mma_emul(o[2 * p + 1], a, b1);
              }
            }
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
              if (l % 4 == 0) lse[((size_t)bi * heads + h) * lq + row] = (m[l][r] + log2f(tot)) * 0.6931471805599453f;
            }
        }
      }
  // reference: softmax(q k^T * scale) v per (bi, h, i), in double
  double num = 0, den = 0, lerr = 0;
  int nan = 0;
  for (int bi = 0; bi < bq; bi++)
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < lq; i++) {
        int bj = bi / (bq / bk);
        std::vector<double> sc(lk);
        double mxv = -1e300;
        for (int j = 0; j < lk; j++) {
          double d = 0;
          for (int e = 0; e < D; e++) d += (double)q[((size_t)bi * lq + i) * c + h * D + e] * k[((size_t)bj * lk + j) * c + h * D + e];
          sc[j] = d * scale;
          mxv = fmax(mxv, sc[j]);
        }
        double z = 0;
        for (int j = 0; j < lk; j++) z += exp(sc[j] - mxv);
        for (int e = 0; e < D; e++) {
          double ref = 0;
          for (int j = 0; j < lk; j++) ref += exp(sc[j] - mxv) / z * v[((size_t)bj * lk + j) * c + h * D + e];
          float got = out[((size_t)bi * lq + i) * c + h * D + e];
          if (isnan(got)) nan++;
          num += (got - ref) * (got - ref);
          den += ref * ref;
        }
        float gl = lse[((size_t)bi * heads + h) * lq + i];
        if (isnan(gl)) nan++;
        lerr = fmax(lerr, fabs(gl - (mxv + log(z))));
      }
  double rel = sqrt(num / den);
  bool bad = nan > 0 || !(rel < 1e-5) || !(lerr < 1e-4);
  printf("%s Bq=%d Lq=%d Bk=%d Lk=%d heads=%d: out rel err %.2e, lse max err %.2e, %d unwritten\n", bad ? "FAIL" : "ok  ", bq, lq, bk, lk,
         heads, rel, lerr, nan);
  return bad;
}

int main() {
  // spatial all-to-first (frames of 2 videos read their video's frame 0), ragged tiles; cross-attention to 6
  // tokens; temporal (14 frames as keys); one exact tile.
  int fails = 0;
  fails += check(6, 100, 2, 100, 2, 1);
  fails += check(4, 70, 4, 6, 1, 2);
  fails += check(3, 14, 3, 14, 3, 3);
  fails += check(2, 64, 1, 128, 1, 4);
  printf(fails ? "%d FAILED\n" : "all attention cases passed\n", fails);
  return fails != 0;
}
