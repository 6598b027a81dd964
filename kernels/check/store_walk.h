// The shared epilogue's data path (kernels/gemm_tile.cuh: accumulators staged as an fp32 tile, then store_tile's
// walk), for the host checks of both tensor-core GEMMs. Include after the kernel file.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <set>
#include <vector>

// One thread's 8-byte staging store of accumulators (v0, v1) at float index at (its partner element's index next):
// fails unless it is an aligned float2 into elements nobody wrote yet.
static void stage_pair(std::vector<float>& staged, int at, int next, float v0, float v1) {
  if (at % 2 || next != at + 1) { printf("FAIL: staged pair %d, %d not an aligned float2\n", at, next); exit(1); }
  if (!isnan(staged.at(at)) || !isnan(staged.at(at + 1))) { printf("FAIL: staged element %d written twice\n", at); exit(1); }
  staged[at] = v0;
  staged[at + 1] = v1;
}

// A warp's 8-byte stores at float indices at[0..31] run in two phases of 16 lanes: conflict-free when each phase
// covers 16 distinct 8-byte bank pairs.
static bool conflict_free_float2(const int (&at)[32]) {
  std::set<int> banks[2];
  for (int lane = 0; lane < 32; lane++) banks[lane / 16].insert(at[lane] % 32 / 2);
  return banks[0].size() == 16 && banks[1].size() == 16;
}

// store_tile<ROWS, BN, ...>'s walk over `rows` staged rows, C's rows bm0.. and columns bn..: plain(row, col, v) for
// every element inside m x n, or for a GEGLU product (half = D) geglu(row, col, value, gate) per output, col the
// value's product column (output column geglu_source(col, half); the gate sits in product column col + 8).
template <int BN, class Plain, class Geglu>
static void store_walk(const std::vector<float>& staged, int rows, int bm0, int bn, int m, int n, int half, Plain plain, Geglu geglu) {
  constexpr int LD = mma::staged_ld<BN>();
  if (half) {
    for (int idx = 0; idx < rows * BN / 2; idx++) {
      int r = idx / (BN / 2), p = mma::geglu_staged_column(idx % (BN / 2)), row = bm0 + r, col = bn + p;
      if (row < m && col < n) geglu(row, col, staged[r * LD + p], staged[r * LD + p + 8]);
    }
  } else {
    for (int idx = 0; idx < rows * BN; idx++) {
      int r = idx / BN, c = idx % BN, row = bm0 + r, col = bn + c;
      if (row < m && col < n) plain(row, col, staged[r * LD + c]);
    }
  }
}
