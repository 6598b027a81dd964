// Host check of kernels/gemm_mma.cu's index arithmetic (no GPU needed): runs the kernel's block / warp / k-step
// schedule on the CPU with its own tile_chunk, slot, a_frag_slot, b_frag_slot, acc_row and acc_col, but with
// ldmatrix and mma.sync emulated from the fragment layouts the PTX manual states, and compares every product with
// a plain triple loop. Catches a wrong lane mapping, swizzle collision, ldmatrix bank conflict or edge mask; not
// races or the cp.async pipeline (the GPU op harness covers those).
//   nvcc -std=c++17 -o /tmp/gmc kernels/check/gemm_mma_host_check.cu && /tmp/gmc
#include "../gemm_mma.cu"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

using namespace mma;
typedef float Chunk[8];  // one 16-byte shared-memory chunk (8 halves, kept as float: only indexing is checked)

// The logical operand: value at (mn, k). Distinct integers so any misplaced element changes the sum.
struct Operand {
  int mn, k;
  std::vector<float> v;
  float at(int i, int kk) const { return v[(size_t)i * k + kk]; }
};

// Fills a tile the way load_tile does: chunk i -> (r, c) -> slot, 8 consecutive elements along the contiguous
// index, zero past the edge (K-major requires k % 8 == 0, MN-major mn % 8 == 0, as CudaGemm does).
template <bool KMAJOR>
static void load(Chunk* s, const Operand& g, int mn0, int k0) {
  std::vector<bool> written(TILE_CHUNKS, false);
  for (int i = 0; i < TILE_CHUNKS; i++) {
    int r, c, dst = tile_chunk<KMAJOR>(i, r, c);
    if (dst < 0 || dst >= TILE_CHUNKS || written[dst]) { printf("FAIL: slot %d written twice or out of range\n", dst); exit(1); }
    written[dst] = true;
    for (int e = 0; e < 8; e++) {
      int mn = KMAJOR ? mn0 + r : mn0 + c * 8 + e, kk = KMAJOR ? k0 + c * 8 + e : k0 + r;
      s[dst][e] = (mn < g.mn && kk < g.k) ? g.at(mn, kk) : 0.f;
    }
  }
}

// ldmatrix.x4: lane 8j+q gives row q of matrix j; without .trans thread t receives (row t/4, cols 2(t%4), +1),
// with .trans (rows 2(t%4), +1, col t/4). Register j of thread t gets the pair from matrix j. Each matrix's 8
// rows are one shared-memory phase: they must sit in 8 different 16-byte bank groups (slot % 8), else conflicts.
static void ldmatrix(float out[32][4][2], const Chunk* s, const int slots[32], bool trans) {
  for (int j = 0; j < 4; j++) {
    unsigned groups = 0;
    for (int q = 0; q < 8; q++) groups |= 1u << (slots[8 * j + q] % 8);
    if (groups != 0xff) { printf("FAIL: ldmatrix phase %d has bank conflicts (groups %02x)\n", j, groups); exit(1); }
  }
  for (int j = 0; j < 4; j++)
    for (int t = 0; t < 32; t++)
      for (int h = 0; h < 2; h++) {
        int row = trans ? 2 * (t % 4) + h : t / 4, col = trans ? t / 4 : 2 * (t % 4) + h;
        out[t][j][h] = s[slots[8 * j + row]][col];
      }
}

// mma.m16n8k16 row.col: A a0 (g, 2c..), a1 (g+8, 2c..), a2 (g, 2c+8..), a3 (g+8, 2c+8..); B b0 (k 2c.., n g),
// b1 (k 2c+8.., n g); C c0,c1 (g, 2c..), c2,c3 (g+8, 2c..), with g = lane/4, c = lane%4.
static void mma_emul(float acc[32][4], const float a[32][4][2], const float b[32][2][2]) {
  float A[16][16], B[16][8];
  for (int t = 0; t < 32; t++) {
    int g = t / 4, c = t % 4;
    for (int h = 0; h < 2; h++) {
      A[g][2 * c + h] = a[t][0][h]; A[g + 8][2 * c + h] = a[t][1][h];
      A[g][2 * c + 8 + h] = a[t][2][h]; A[g + 8][2 * c + 8 + h] = a[t][3][h];
      B[2 * c + h][g] = b[t][0][h]; B[2 * c + 8 + h][g] = b[t][1][h];
    }
  }
  for (int t = 0; t < 32; t++)
    for (int e = 0; e < 4; e++) {
      int r = (t / 4) + (e / 2) * 8, col = 2 * (t % 4) + e % 2;
      double sum = 0;
      for (int kk = 0; kk < 16; kk++) sum += (double)A[r][kk] * B[kk][col];
      acc[t][e] += (float)sum;
    }
}

template <bool AK, bool BKM>
static int check(int m, int n, int k, unsigned seed) {
  srand(seed);
  Operand A{m, k, std::vector<float>((size_t)m * k)}, B{n, k, std::vector<float>((size_t)n * k)};
  for (auto& x : A.v) x = (float)(rand() % 7 - 3);
  for (auto& x : B.v) x = (float)(rand() % 7 - 3);
  std::vector<float> C((size_t)m * n, NAN);
  static Chunk sa[TILE_CHUNKS], sb[TILE_CHUNKS];
  for (int bm = 0; bm < m; bm += BM)
    for (int bn = 0; bn < n; bn += BN) {
      static float acc[8][4][4][32][4];  // warp, i, q, lane, e
      for (auto* p = &acc[0][0][0][0][0]; p != &acc[0][0][0][0][0] + sizeof(acc) / sizeof(float); p++) *p = 0;
      for (int k0 = 0; k0 < k; k0 += BK) {
        load<AK>(sa, A, bm, k0);
        load<BKM>(sb, B, bn, k0);
        for (int warp = 0; warp < 8; warp++) {
          int wm = (warp / 4) * 64, wn = (warp % 4) * 32;
          for (int kk = 0; kk < BK; kk += 16) {
            static float af[4][32][4][2], bf[4][32][2][2];
            for (int i = 0; i < 4; i++) {
              int slots[32];
              for (int l = 0; l < 32; l++) slots[l] = a_frag_slot<AK>(l, wm + i * 16, kk);
              ldmatrix(af[i], sa, slots, !AK);
            }
            for (int p = 0; p < 2; p++) {
              int slots[32];
              float r[32][4][2];
              for (int l = 0; l < 32; l++) slots[l] = b_frag_slot<BKM>(l, wn + p * 16, kk);
              ldmatrix(r, sb, slots, !BKM);
              for (int t = 0; t < 32; t++)
                for (int h = 0; h < 2; h++) {
                  bf[2 * p][t][0][h] = r[t][0][h]; bf[2 * p][t][1][h] = r[t][1][h];
                  bf[2 * p + 1][t][0][h] = r[t][2][h]; bf[2 * p + 1][t][1][h] = r[t][3][h];
                }
            }
            for (int i = 0; i < 4; i++)
              for (int q = 0; q < 4; q++) mma_emul(acc[warp][i][q], af[i], bf[q]);
          }
        }
      }
      for (int warp = 0; warp < 8; warp++) {
        int wm = (warp / 4) * 64, wn = (warp % 4) * 32;
        for (int i = 0; i < 4; i++)
          for (int q = 0; q < 4; q++)
            for (int l = 0; l < 32; l++)
              for (int e = 0; e < 4; e++) {
                int row = bm + wm + i * 16 + acc_row(l, e), col = bn + wn + q * 8 + acc_col(l, e);
                if (row < m && col < n) C[(size_t)row * n + col] = acc[warp][i][q][l][e];
              }
      }
    }
  int bad = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double ref = 0;
      for (int kk = 0; kk < k; kk++) ref += (double)A.at(i, kk) * B.at(j, kk);
      float got = C[(size_t)i * n + j];
      if (!(got == (float)ref) && bad++ < 5) printf("  (%d,%d): got %g want %g\n", i, j, got, ref);
    }
  printf("%s A %s-major, B %s-major, m=%d n=%d k=%d: %d of %d wrong\n", bad ? "FAIL" : "ok  ", AK ? "K" : "M",
         BKM ? "K" : "N", m, n, k, bad, m * n);
  return bad != 0;
}

int main() {
  // Shapes: one full tile, edges in every direction (M, N, K not multiples of 128 / 128 / 32), K of one chunk.
  const int shapes[][3] = {{128, 128, 32}, {136, 200, 72}, {8, 16, 8}, {264, 136, 104}};
  int fails = 0;
  unsigned seed = 1;
  for (auto& s : shapes) {
    fails += check<true, true>(s[0], s[1], s[2], seed++);
    fails += check<true, false>(s[0], s[1], s[2], seed++);
    fails += check<false, true>(s[0], s[1], s[2], seed++);
    fails += check<false, false>(s[0], s[1], s[2], seed++);
  }
  printf(fails ? "%d FAILED\n" : "all %d layouts x shapes passed\n", fails ? fails : 16);
  return fails != 0;
}
