// Host emulation of ldmatrix.x4 and mma.sync m16n8k16 from the fragment layouts the PTX manual gives, for the
// kernels' host checks (gemm_mma_host_check.cu, attention_mma_host_check.cu). Values are floats: the checks verify
// index arithmetic, not rounding. Also fails on ldmatrix bank conflicts.
#pragma once
#include <stdio.h>
#include <stdlib.h>

typedef float Chunk[8];  // one 16-byte shared-memory chunk (8 halves)

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

