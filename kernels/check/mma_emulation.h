// Host emulation of ldmatrix.x4 and mma.sync m16n8k16 from the fragment layouts the PTX manual gives (compared with
// CUTLASS's CuTe by cute_layouts_check.cu), for the kernels' host checks (gemm_mma_host_check.cu,
// attention_mma_host_check.cu) and, through the per-lane layout functions, the SIMT emulator (emu/simt.h). Values
// are floats: the checks verify index arithmetic, not rounding.
// Also fails on ldmatrix bank conflicts.
#pragma once
#include <stdio.h>
#include <stdlib.h>

typedef float Chunk[8];  // one 16-byte shared-memory chunk (8 halves)

// The layouts, per lane t (g = t / 4, c = t % 4), element h of a register's pair:
// ldmatrix: register j holds matrix j's (row, col); without .trans (g, 2c + h), with .trans (2c + h, g).
static inline void ldmatrix_source(int t, int h, bool trans, int& row, int& col) {
  row = trans ? 2 * (t % 4) + h : t / 4;
  col = trans ? t / 4 : 2 * (t % 4) + h;
}
// mma A register r (a0..a3) holds A[g + 8 (r % 2)][2c + h + 8 (r / 2)]; B register r (b0, b1) holds B[2c + h + 8r][g];
// accumulator e (c0..c3) is D[g + 8 (e / 2)][2c + e % 2].
static inline void mma_a_at(int t, int r, int h, int& row, int& k) { row = t / 4 + (r % 2) * 8; k = 2 * (t % 4) + h + (r / 2) * 8; }
static inline void mma_b_at(int t, int r, int h, int& k, int& col) { k = 2 * (t % 4) + h + r * 8; col = t / 4; }
static inline void mma_d_at(int t, int e, int& row, int& col) { row = t / 4 + (e / 2) * 8; col = 2 * (t % 4) + e % 2; }

// ldmatrix.x4 for a whole warp: lane 8j+q gives row q of matrix j (ldmatrix_source says which element each lane
// receives). Each matrix's 8 rows are one shared-memory phase: they must sit in 8 different 16-byte bank groups
// (slot % 8), else conflicts.
static void ldmatrix(float out[32][4][2], const Chunk* s, const int slots[32], bool trans) {
  for (int j = 0; j < 4; j++) {
    unsigned groups = 0;
    for (int q = 0; q < 8; q++) groups |= 1u << (slots[8 * j + q] % 8);
    if (groups != 0xff) { printf("FAIL: ldmatrix phase %d has bank conflicts (groups %02x)\n", j, groups); exit(1); }
  }
  for (int j = 0; j < 4; j++)
    for (int t = 0; t < 32; t++)
      for (int h = 0; h < 2; h++) {
        int row, col;
        ldmatrix_source(t, h, trans, row, col);
        out[t][j][h] = s[slots[8 * j + row]][col];
      }
}

// mma.m16n8k16 row.col for a whole warp, through mma_a_at / mma_b_at / mma_d_at.
static void mma_emul(float acc[32][4], const float a[32][4][2], const float b[32][2][2]) {
  float A[16][16], B[16][8];
  for (int t = 0; t < 32; t++)
    for (int h = 0; h < 2; h++) {
      int row, k, col;
      for (int r = 0; r < 4; r++) { mma_a_at(t, r, h, row, k); A[row][k] = a[t][r][h]; }
      for (int r = 0; r < 2; r++) { mma_b_at(t, r, h, k, col); B[k][col] = b[t][r][h]; }
    }
  for (int t = 0; t < 32; t++)
    for (int e = 0; e < 4; e++) {
      int r, col;
      mma_d_at(t, e, r, col);
      double sum = 0;
      for (int kk = 0; kk < 16; kk++) sum += (double)A[r][kk] * B[kk][col];
      acc[t][e] += (float)sum;
    }
}
