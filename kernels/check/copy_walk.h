// load_tile's copies as one thread makes them (kernels/gemm_tile.cuh), for the host checks of both tensor-core GEMMs,
// each copied element checked against the operand's value computed here from the Operand's fields alone.
// Include after the kernel file.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <vector>

// Element (row, col) of the matrix an Operand describes (rows x cols; a gather: pixels x (ky, kx, ci)), 0 outside it,
// in the padding or between a dilated image's pixels; mem holds the batch entry from base. Plain division, none of
// gemm_tile.cuh's arithmetic (window_of, tap_of, common.cuh's fast_div, GatherRow, the copy kinds): the independent side.
static float operand_element(const mma::Operand& o, const std::vector<float>& mem, long long base, long long row, long long col) {
  if (row < 0 || row >= o.rows || col < 0 || col >= o.cols) return 0.f;
  if (!o.gather) return mem.at(base + row * o.ld + col);
  long long b = row / (o.ho * o.wo), oy = row / o.wo % o.ho, ox = row % o.wo;
  long long ky = col / (o.kw * o.cin), kx = col / o.cin % o.kw, ci = col % o.cin;
  long long y = oy * o.sh - o.pt + ky, x = ox * o.sw - o.pl + kx;  // in the dilated image where dilated
  if (y < 0 || x < 0 || y % o.dh || x % o.dw || y / o.dh >= o.h || x / o.dw >= o.w) return 0.f;
  return mem.at(base + ((b * o.h + y / o.dh) * o.w + x / o.dw) * o.cin + ci);
}

// Thread tid's copies of an MN x BK operand tile (NT copying threads; ATOMS: gemm_wgmma's MN-major layout): copy it ->
// (r, c) and slot by TileCopies, as load_tile finds them -> tile coordinates (row, col) -> how.find, then the 8
// elements the copy brings (zeros where find says it reads none; memory from base, the batch entry's start) go to
// put(slot, v). Fails a copy whose (r, c, slot) is not chunk tid + it * NT's by tile_chunk, a slot out of range or
// written twice (written: a flag per slot), an offset outside mem, and an element that is not operand_element's.
template <bool KMAJOR, int MN, int BK, int NT, bool ATOMS, class How, class Put>
static void copy_walk(std::vector<bool>& written, const mma::Operand& o, const How& how, int tid, int mn0, int k0, int half,
                      const std::vector<float>& mem, long long base, Put put) {
  const mma::TileCopies<KMAJOR, MN, BK, NT, ATOMS> copies(tid);
  for (int it = 0; it < copies.COPIES; it++) {
    int r, c, row, col, dst = copies.slot(it);
    // the copy is chunk tid + it * NT: TileCopies' shortcut must give that chunk's row, column chunk and slot
    const int want = mma::tile_chunk<KMAJOR, MN, BK, ATOMS>(tid + it * NT, r, c);
    if (dst != want || r != copies.row(it) || c != copies.c) {
      printf("FAIL: thread %d's copy %d: TileCopies gives row %d, chunk %d, slot %d; tile_chunk row %d, chunk %d, slot %d\n",
             tid, it, copies.row(it), copies.c, dst, r, c, want);
      exit(1);
    }
    if (dst < 0 || dst >= (int)written.size() || written[dst]) { printf("FAIL: slot %d written twice or out of range\n", dst); exit(1); }
    written[dst] = true;
    mma::tile_coords<KMAJOR>(r, c, mn0, k0, half, row, col);
    unsigned off = 0;
    const bool valid = how.find(o, it, row, col, k0, off);
    float v[8];
    for (int e = 0; e < 8; e++) {
      v[e] = valid ? mem.at(base + how.start(o, k0) + off + e) : 0.f;
      const float want = operand_element(o, mem, base, row, col + e);
      if (!(v[e] == want)) {
        printf("FAIL: thread %d's copy %d brings %g for element (%d, %d), want %g (%s)\n", tid, it, v[e], row, col + e, want,
               valid ? "read at the offset found" : "zero-filled");
        exit(1);
      }
    }
    put(dst, v);
  }
}

// After every copying thread's walk: each slot of the tile was written.
static void require_written(const std::vector<bool>& written, const char* operand) {
  for (bool w : written)
    if (!w) { printf("FAIL: a slot of %s's tile no thread wrote\n", operand); exit(1); }
}
