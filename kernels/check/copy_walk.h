// load_tile's copies as one thread makes them (kernels/gemm_tile.cuh), for the host checks of both tensor-core GEMMs.
// Include after the kernel file.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <vector>

// Thread tid's copies of an MN x BK operand tile (NT copying threads; ATOMS: gemm_wgmma's MN-major layout): copy it ->
// chunk -> (r, c) -> slot, tile coordinates (row, col) -> how.find, then put(slot, valid, off) stores the 8 elements.
// written (a flag per slot) fails a slot out of range or written twice.
template <bool KMAJOR, int MN, int BK, int NT, bool ATOMS, class How, class Put>
static void copy_walk(std::vector<bool>& written, const mma::Operand& o, const How& how, int tid, int mn0, int k0, int half,
                      Put put) {
  for (int it = 0; it < MN * BK / 8 / NT; it++) {
    int r, c, row, col, dst = mma::tile_chunk<KMAJOR, MN, BK, ATOMS>(mma::copy_chunk<NT>(tid, it), r, c);
    if (dst < 0 || dst >= (int)written.size() || written[dst]) { printf("FAIL: slot %d written twice or out of range\n", dst); exit(1); }
    written[dst] = true;
    mma::tile_coords<KMAJOR>(r, c, mn0, k0, half, row, col);
    long long off = 0;
    const bool valid = how.find(o, it, row, col, k0, off);
    put(dst, valid, off);
  }
}

// After every copying thread's walk: each slot of the tile was written.
static void require_written(const std::vector<bool>& written, const char* operand) {
  for (bool w : written)
    if (!w) { printf("FAIL: a slot of %s's tile no thread wrote\n", operand); exit(1); }
}
