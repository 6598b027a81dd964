// Host emulation of what kernels/gemm_wgmma.cu asks of Hopper's hardware, as the PTX manual and the CUDA driver's
// tensor-map documentation describe it: where wgmma reads an operand element through a shared-memory matrix
// descriptor, which accumulator each thread of a warpgroup holds, where a TMA box element lands in shared memory, and
// which pixel an im2col box reads. One statement of each, used by the host check (gemm_wgmma_host_check.cu) and by
// the SIMT emulator (emu/hopper.cpp), so both read the kernel against the same description; cute_layouts_check.cu
// compares the operand layouts and the D fragment with CUTLASS's CuTe, a reading that is not ours.
#pragma once
#include <stdint.h>

// The 128-byte swizzle on an absolute shared address: the 16-byte chunk within a 128-byte row (bits 4-6) XOR the row
// within the 1024-byte repeat (bits 7-9). wgmma's descriptors and TMA's boxes in mode 128B both apply it.
static inline unsigned swizzle128(unsigned byte) { return byte ^ (byte >> 7 & 7) << 4; }

// A descriptor's fields (bits 0-13 start address >> 4, 16-29 leading byte offset >> 4, 32-45 stride byte offset >> 4,
// 62-63 swizzle mode, 1 = 128 bytes).
static inline int wgmma_swizzle_mode(uint64_t desc) { return (int)(desc >> 62); }

// The shared byte of element (r, k) of a 16-bit wgmma operand (r along M for A, along N for B; k of the 16-wide
// slice) in the 128-byte swizzle, from the canonical layouts: K-major (rows of 128 bytes along K, 8-row atoms), r at
// start + (r / 8) SBO + (r % 8) 128 + 2k; MN-major (read transposed: 64 MN elements per 128-byte row, 8 K rows per
// atom), start + (r / 64) LBO + 2 (r % 64) + (k / 8) SBO + (k % 8) 128; then the swizzle.
static inline unsigned wgmma_operand_byte(uint64_t desc, bool kmajor, int r, int k) {
  const unsigned start = (unsigned)(desc & 0x3FFF) << 4, lbo = (unsigned)(desc >> 16 & 0x3FFF) << 4, sbo = (unsigned)(desc >> 32 & 0x3FFF) << 4;
  const unsigned byte = kmajor ? start + r / 8 * sbo + r % 8 * 128 + k * 2 : start + r / 64 * lbo + r % 64 * 2 + k / 8 * sbo + k % 8 * 128;
  return swizzle128(byte);
}

// wgmma's D fragment: thread t (0-127) of the warpgroup holds d[j][e] = D[row][col], warp t / 32 rows 16 (t / 32)..,
// each 8 columns as mma.sync's m16n8 C fragment.
static inline void wgmma_d_at(int t, int j, int e, int& row, int& col) {
  row = 16 * (t / 32) + t % 32 / 4 + 8 * (e / 2);
  col = 8 * j + 2 * (t % 4) + e % 2;
}

// TMA tiled mode: box element (x0, x1, ...) (innermost first, element strides 1) lies at global coordinates
// c + x (zero-filled outside the tensor) and lands at byte (x0 + b0 (x1 + b1 (x2 ...))) * size from the box's
// destination, swizzled on the absolute address.
static inline unsigned tma_box_byte(unsigned dst, const int* box, int rank, const int* x, int size) {
  unsigned long long linear = 0;
  for (int i = rank - 1; i >= 0; i--) linear = linear * box[i] + x[i];
  return swizzle128(dst + (unsigned)(linear * size));
}

// TMA im2col mode over a (C, W, H, N) tensor with a pixel window from `lower` to dim - 1 + `upper` per spatial dim,
// traversed in steps of `step` (W fastest, then H, then the image): a box starting at window position (w, h) of image n
// holds, as its pixel j, the j-th position from there, read at that position moved by the tap offsets (ow, oh); zero
// outside the image or past the last one.
struct Im2colWindow {
  int W, H, N, lower_w, lower_h, upper_w, upper_h, step_w, step_h;
  int positions_w() const { return (W - 1 + upper_w - lower_w) / step_w + 1; }
  int positions_h() const { return (H - 1 + upper_h - lower_h) / step_h + 1; }
};

// The traversal index of the box's first pixel; false when (w, h) is not a window position.
static inline bool im2col_first(const Im2colWindow& m, int w, int h, int n, long long& first) {
  if ((w - m.lower_w) % m.step_w || (h - m.lower_h) % m.step_h || w < m.lower_w || h < m.lower_h) return false;
  first = ((long long)n * m.positions_h() + (h - m.lower_h) / m.step_h) * m.positions_w() + (w - m.lower_w) / m.step_w;
  return true;
}

// Pixel j of the box: where it is read (x, y, image); false when that is outside the tensor (the box row is zeros).
static inline bool im2col_pixel(const Im2colWindow& m, long long first, int j, int ow, int oh, int& x, int& y, long long& image) {
  const long long at = first + j;
  x = (int)(at % m.positions_w()) * m.step_w + m.lower_w + ow;
  y = (int)(at / m.positions_w() % m.positions_h()) * m.step_h + m.lower_h + oh;
  image = at / ((long long)m.positions_w() * m.positions_h());
  return image < m.N && x >= 0 && x < m.W && y >= 0 && y < m.H;
}
