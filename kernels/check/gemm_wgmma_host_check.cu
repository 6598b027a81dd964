// Host check of kernels/gemm_wgmma.cu's index arithmetic (no GPU needed): runs the kernel's persistent tile
// schedule (tile_of), its tile copies (per thread, as load_tile makes them: chunk -> slot, both layouts, and the copy
// kinds with_copy_kinds picks: DenseCopies, TileRows, TileTaps, GatherEach; for gemm_ws's copier with EACH) into an
// emulated shared memory whose ring starts where the kernel's alignment puts it, its matrix descriptors and k slices as it builds
// them, a wgmma emulated from the PTX manual's canonical layouts in the 128-byte swizzle and its D fragment
// (hopper_emulation.h, which the SIMT emulator shares: wgmma_operand_byte, wgmma_d_at),
// its staging of the accumulators and its epilogue walk (plain, bias, GEGLU), for both block organisations (gemm_ws:
// the ring position counted across tiles, C staged and stored in 64-row halves, and every dense operand's TMA boxes,
// emulated, leaving the same shared-memory bytes as its cp.async copy), against a triple loop or a direct
// convolution. Catches a wrong descriptor field, k-slice advance, warpgroup or B offset, swizzle/slot mismatch, tile
// order gap, edge mask or GEGLU pairing; not races or the memory ordering (the GPU op harness covers those; the SIMT
// emulator's sm_90 runs the kernel itself: kernels/check/emu, SIMT_ARCH=90).
//   nvcc -std=c++17 -o /tmp/gwc kernels/check/gemm_wgmma_host_check.cu && /tmp/gwc
#define GEMM_WGMMA_INDEX_ONLY
#include "../gemm_wgmma.cu"
#include "store_walk.h"
#include "copy_walk.h"
#include "hopper_emulation.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <functional>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

using namespace wg;

struct Side {  // a K-major operand: memory, the kernel's Operand, and its logical value at (mn, k)
  std::shared_ptr<std::vector<float>> mem;
  Operand o;
  std::function<float(int, int)> at;
};

static float rnd() { return (float)(rand() % 7 - 3); }

// A dense operand, logically mn x k, stored K-major (rows of k, stride ld >= k) or MN-major (rows of mn, ld >= mn).
static Side dense(bool kmajor, int batch, int mn, int k, int ld) {
  Side d;
  long long rows = kmajor ? mn : k, bs = rows * ld + 8;  // a batch stride that is not just the matrix size
  d.mem = std::make_shared<std::vector<float>>((size_t)(batch * bs));
  for (auto& x : *d.mem) x = rnd();
  d.o = Operand{ld, bs, rows, kmajor ? k : mn, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  auto m = d.mem;
  d.at = [m, ld, bs, kmajor](int bi, int kk) {  // (b * 100000 + mn, k)
    long long b = bi / 100000, i = bi % 100000;
    return (*m)[(size_t)(b * bs + (kmajor ? i * ld + kk : kk * ld + i))];
  };
  return d;
}

// The im2col of x (n, h, w, cin), padding p along H and pw along W: rows = output pixels, columns (ky, kx, ci);
// at(pixel, column). As the A of a forward conv (K-major) or, transposed (at(column, pixel)), the B of a weight
// gradient (MN-major).
static Side conv_input(int n, int h, int w, int cin, int kh, int kw, int s, int p, int pw) {
  Side d;
  d.mem = std::make_shared<std::vector<float>>((size_t)n * h * w * cin);
  for (auto& x : *d.mem) x = rnd();
  int ho = (h + 2 * p - kh) / s + 1, wo = (w + 2 * pw - kw) / s + 1;
  d.o = with_divisors(Operand{0, 0, (long long)n * ho * wo, (long long)kh * kw * cin, 1, h, w, cin, kw, ho, wo, s, s, p, pw, 1, 1});
  const Operand o = d.o;
  auto m = d.mem;
  d.at = [o, m](int px, int q) { return operand_element(o, *m, 0, px, q); };
  return d;
}

// Whether gemm_ws copies a gather by TMA's im2col mode (TensorMaps.im2colPlan's rule): Cin % 64 == 0.
static bool im2col_by_tma(const Operand& o) { return o.gather && o.cin % 64 == 0; }

// gemm_ws's TMA copy of an operand tile, emulated, compared with the cp.async copy already in smem (which copy_walk
// checked element by element): a dense box everywhere (zeros past the dims, as cp.async's), an im2col box wherever
// the tile's MN index is inside the operand (past it TMA brings the next image's pixels or the next tap where
// cp.async zero-fills: rows / columns of C that are never stored).
//   Dense: the driver's tiled map as TensorMaps.plan builds it (dims (cols, rows[, batch]), byte strides (ld, bs),
//   box (box0, box1)): box element (c0 + x, c1 + y), zero past the dims, lands at x * 2 + y * box0 * 2 from the
//   destination, then the 128-byte swizzle on the absolute address; the kernel's boxes (tma_box).
//   Im2col (a gather): the im2col map as TensorMaps.im2colPlan builds it (x (N, H, W, Cin); per spatial dim a pixel
//   window from -pad, traversed in steps of the conv stride, one position per output; 64 channels per pixel; 128 or
//   64 pixels per box): pixel j of a box is the j-th window position after the box's first one (W fastest, then H,
//   then the image), read at that position moved by the tap offsets, zero outside the image or past the last image
//   (the semantics of PTX's im2col mode, as NVIDIA's and Triton's examples show them); its 64 channels from c on are
//   box row j. The kernel's boxes (im2col_box).
template <bool KMAJOR, int MN>
static void tma_matches(const std::vector<float>& smem, const Side& g, int batch, unsigned tile, int b, int mn0, int k0) {
  const Operand& o = g.o;
  if (o.gather && !im2col_by_tma(o)) return;  // copied by cp.async only
  std::vector<float> want(MN * BK, NAN);
  std::vector<bool> care(MN * BK, false);
  auto put = [&](unsigned byte, float v, bool inside) {  // byte: already swizzled
    if (byte < tile || byte >= tile + MN * BK * 2) { printf("FAIL: TMA box writes outside its tile\n"); exit(1); }
    want[(byte - tile) / 2] = v;
    care[(byte - tile) / 2] = inside;
  };
  for (int i = 0; i < tma_boxes<KMAJOR, MN>(); i++) {
    if (o.gather) {
      int c, w, h, n, ow, oh;
      const unsigned dst = tile + im2col_box<KMAJOR>(i, mn0, k0, o, c, w, h, n, ow, oh);
      const int cin = (int)o.cin;
      // the window TensorMaps.im2colPlan encodes: from -pad, one position per output, stepped by the stride
      const Im2colWindow win{(int)o.w, (int)o.h, (int)(o.rows / (o.ho * o.wo)), -(int)o.pl, -(int)o.pt,
                             (int)((o.wo - 1) * o.sw + 1 - o.w - o.pl), (int)((o.ho - 1) * o.sh + 1 - o.h - o.pt), (int)o.sw, (int)o.sh};
      long long first;
      if (!im2col_first(win, w, h, n, first)) { printf("FAIL: an im2col box starts between traversal positions\n"); exit(1); }
      for (int j = 0; j < (KMAJOR ? MN : BK); j++) {
        int x, y;
        long long img;
        const bool valid = im2col_pixel(win, first, j, ow, oh, x, y, img);
        for (int e = 0; e < 64; e++)
          put(swizzle128(dst + j * 128 + e * 2), valid ? g.mem->at(((img * win.H + y) * win.W + x) * cin + c + e) : 0.f,
              KMAJOR ? mn0 + j < o.rows : mn0 + 64 * i + e < o.cols);
      }
    } else {
      const long long dims0 = o.cols, dims1 = o.rows;  // TensorMaps.plan: (cols, rows, batch)
      const bool rank3 = batch > 1 && o.bs > 0;         // else rank 2: every batch entry reads the same matrix
      const int box0 = KMAJOR ? BK : 64, box1 = KMAJOR ? MN : BK;
      int c0, c1;
      const unsigned dst = tile + tma_box<KMAJOR>(i, mn0, k0, c0, c1);
      const int box[2] = {box0, box1};
      for (int y = 0; y < box1; y++)
        for (int x = 0; x < box0; x++) {
          long long gx = c0 + x, gy = c1 + y;
          const int at[2] = {x, y};
          put(tma_box_byte(dst, box, 2, at, 2), gx < dims0 && gy < dims1 ? g.mem->at((rank3 ? b * o.bs : 0) + gy * o.ld + gx) : 0.f, true);
        }
    }
  }
  for (int e = 0; e < MN * BK; e++)
    if (std::isnan(want[e]) || (care[e] && !(want[e] == smem[tile / 2 + e]))) {
      printf("FAIL: TMA %s tile (%s-major, %d rows) differs from the cp.async copy at element %d: %g vs %g\n", o.gather ? "im2col" : "tiled",
             KMAJOR ? "K" : "MN", MN, e, want[e], smem[tile / 2 + e]);
      exit(1);
    }
}

// One product C (batch x m x n) = A B^T through the kernel's schedule; half = D for GEGLU (C has D columns). WS:
// gemm_ws's ring (its stage count, iterations counted across the block's tiles) and its staging of C in 64-row
// halves, one warpgroup's at a time.
template <int BN, bool AK, bool BKM, bool WS>
static std::vector<float> run(int batch, int m, int n, int k, const Side& A, const Side& B, const std::vector<float>& bias, int half) {
  using Cf = Cfg<BN>;
  constexpr int RING_STAGES = WS ? WsCfg<BN>::STAGES : STAGES;
  const unsigned raw = 3000, pad = (1024 - raw % 1024) % 1024, ring = raw + pad;  // the kernel's alignment of a dynamic base
  std::vector<float> smem((ring + RING_STAGES * Cf::STAGE_BYTES) / 2, NAN);
  constexpr int LD = staged_ld<BN>();
  const int nc = half ? half : n;
  std::vector<float> C((size_t)batch * m * nc, NAN);
  const int tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN, ktiles = (k + BK - 1) / BK, total = tiles_m * tiles_n * batch;
  std::set<std::tuple<int, int, int>> seen;
  int it = 0;  // one block walks every tile (the kernel's grid of one, as CudaGemm's validation also runs it)
  for (int t = 0; t < total; t++) {
    int b, tm, tn;
    tile_of(t, tiles_m, tiles_n, b, tm, tn);
    if (b < 0 || b >= batch || tm < 0 || tm >= tiles_m || tn < 0 || tn >= tiles_n || !seen.insert({b, tm, tn}).second) {
      printf("FAIL: tile_of(%d) = (%d, %d, %d): out of range or repeated\n", t, b, tm, tn); exit(1);
    }
    const int bm = tm * BM, bn = tn * BN;
    float acc[2][128][BN / 8][4] = {};
    for (int kt = 0; kt < ktiles; kt++, it++) {
      const unsigned stage = ring + (WS ? ring_stage(it, RING_STAGES) : kt % STAGES) * Cf::STAGE_BYTES;
      // load_tile<.., ATOMS = true> as the kernels' copying threads run it, each with the copy kinds with_copy_kinds
      // picks for it: gemm's 256 threads, or gemm_ws's copier warpgroup (128, copies from a loop: EACH)
      std::vector<bool> wa(BM * BK / 8, false), wb(BN * BK / 8, false);
      const int k0 = kt * BK;
      auto into = [&](unsigned base) {  // 8 elements into the emulated shared memory
        return [&, base](int dst, const float* v) { for (int e = 0; e < 8; e++) smem[base / 2 + dst * 8 + e] = v[e]; };
      };
      constexpr int NT = WS ? 128 : THREADS;
      for (int tid = 0; tid < NT; tid++)
        with_copy_kinds<AK, BKM, BM, BN, BK, NT, WS>(A.o, B.o, bm, bn, half, tid, [&](const auto& how_a, const auto& how_b) {
          copy_walk<AK, BM, BK, NT, true>(wa, A.o, how_a, tid, bm, k0, 0, *A.mem, b * A.o.bs, into(stage));
          copy_walk<BKM, BN, BK, NT, true>(wb, B.o, how_b, tid, bn, k0, half, *B.mem, b * B.o.bs, into(stage + Cf::A_BYTES));
        });
      require_written(wa, "A");
      require_written(wb, "B");
      if (WS) {  // gemm_ws's TMA path for a dense operand (B not in a GEGLU product) must leave the same bytes
        tma_matches<AK, BM>(smem, A, batch, stage, b, bm, kt * BK);
        if (!half) tma_matches<BKM, BN>(smem, B, batch, stage + Cf::A_BYTES, b, bn, kt * BK);
      }
      auto element = [&](uint64_t desc, bool kmajor, int r, int kk) {  // the emulated hardware read of a descriptor's operand
        if (wgmma_swizzle_mode(desc) != 1) { printf("FAIL: descriptor swizzle mode %d\n", wgmma_swizzle_mode(desc)); exit(1); }
        return smem.at(wgmma_operand_byte(desc, kmajor, r, kk) / 2);
      };
      for (int g = 0; g < 2; g++) {
        const uint64_t da = a_descriptor<AK>(stage, g), db = b_descriptor<BKM, BN>(stage);
        for (int ks = 0; ks < BK / 16; ks++)
          for (int th = 0; th < 128; th++)
            for (int j = 0; j < BN / 8; j++)
              for (int e = 0; e < 4; e++) {
                int row, col;
                wgmma_d_at(th, j, e, row, col);
                float s = 0;
                for (int kk = 0; kk < 16; kk++) s += element(slice<AK>(da, ks), AK, row, kk) * element(slice<BKM>(db, ks), BKM, col, kk);
                acc[g][th][j][e] += s;
              }
      }
    }
    auto bias_at = [&](int col) { return bias.empty() || col >= n ? 0.f : bias[half ? geglu_source(col, half) : col]; };
    constexpr int ROWS = WS ? 64 : BM;  // rows staged at once: gemm stages the whole tile, gemm_ws one warpgroup's half
    for (int part = 0; part < BM / ROWS; part++) {
      std::vector<float> staged((size_t)ROWS * LD, NAN);
      for (int g = WS ? part : 0; g < (WS ? part + 1 : 2); g++)
        for (int w = 0; w < 4; w++)
          for (int j = 0; j < BN / 8; j++)
            for (int e = 0; e < 4; e += 2) {
              int at[32];
              for (int lane = 0; lane < 32; lane++) {
                at[lane] = staged_at<BN>(WS ? 0 : g, w, lane, j, e);
                stage_pair(staged, at[lane], staged_at<BN>(WS ? 0 : g, w, lane, j, e + 1), acc[g][32 * w + lane][j][e], acc[g][32 * w + lane][j][e + 1]);
              }
              if (!conflict_free_float2(at)) { printf("FAIL: bank conflict staging block %d\n", j); exit(1); }
            }
      store_walk<BN>(staged, ROWS, bm + part * ROWS, bn, m, n, half,
                     [&](int row, int col, float v) { C[((size_t)b * m + row) * n + col] = v + bias_at(col); },
                     [&](int row, int col, float v, float gt) {
                       // the gelu is the same function on both sides: store value and gate (as value + 1000 * gate) to check pairing
                       size_t o = ((size_t)b * m + row) * nc + geglu_source(col, half);
                       if (!std::isnan(C[o])) { printf("FAIL: GEGLU output written twice\n"); exit(1); }
                       C[o] = v + bias_at(col) + 1000 * (gt + bias_at(col + 8));
                     });
    }
  }
  return C;
}

template <int BN, bool AK, bool BKM, bool WS>
static int check(const char* what, int batch, int m, int n, int k, const Side& A, const Side& B, bool with_bias, int half = 0) {
  std::vector<float> bias;
  if (with_bias) { bias.resize(n); for (auto& x : bias) x = rnd(); }
  std::vector<float> C = run<BN, AK, BKM, WS>(batch, m, n, k, A, B, bias, half);
  int bad = 0, nc = half ? half : n;
  for (int b = 0; b < batch; b++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < nc; j++) {
        auto dot = [&](int col) {
          double s = with_bias ? bias[col] : 0;
          for (int kk = 0; kk < k; kk++) s += (double)A.at(b * 100000 + i, kk) * B.at(b * 100000 + col, kk);
          return s;
        };
        double want = half ? dot(j) + 1000 * dot(half + j) : dot(j);
        float got = C[((size_t)b * m + i) * nc + j];
        if (!(got == (float)want) && bad++ < 5) printf("  (%d,%d,%d): got %g want %g\n", b, i, j, got, want);
      }
  printf("%s %s, %s128x%d tile, A %s-major, B %s-major, batch=%d m=%d n=%d k=%d: %d of %d wrong\n", bad ? "FAIL" : "ok  ", what, WS ? "ws " : "", BN,
         AK ? "K" : "M", BKM ? "K" : "N", batch, m, n, k, bad, batch * m * nc);
  return bad != 0;
}

template <int BN, bool AK, bool BKM, bool WS>
static int layouts() {
  int fails = 0;
  // M, N, K multiples of 8 as CudaGemm.mmaPlan requires of every contiguous extent (a 16-byte chunk never straddles
  // an operand's edge: copy_walk checks every copied element), ragged against the tiles
  for (auto [batch, m, n, k] : std::vector<std::tuple<int, int, int, int>>{{1, 200, 296, 136}, {2, 72, 520, 64}, {3, 136, 16, 8}, {1, 1096, 136, 200}, {2, 72, 40, 0}}) {
    Side A = dense(AK, batch, m, k, (AK ? k : m) + 8), B = dense(BKM, batch, n, k, BKM ? k : n);
    fails += check<BN, AK, BKM, WS>("dense", batch, m, n, k, A, B, (m + n) % 2 == 0);
  }
  for (auto [m, d, k] : std::vector<std::tuple<int, int, int>>{{152, 136, 72}, {64, 8, 16}, {264, 320, 40}}) {
    Side A = dense(AK, 1, m, k, AK ? k : m), B = dense(BKM, 1, 2 * d, k, BKM ? k : 2 * d);
    fails += check<BN, AK, BKM, WS>("geglu", 1, m, 2 * d, k, A, B, true, d);
  }
  return fails;
}

// Convolutions through the gather: the forward (A = im2col, K-major; B = weights (cout, 9 cin), K-major) and the
// weight gradient (A = gy stored (pixels, cout), M-major; B = im2col read as (column, pixel), N-major).
template <int BN, bool WS>
static int convs() {
  int fails = 0;
  // (kh, kw, h, cin, cout, stride): 64-channel ones also through gemm_ws's TMA im2col (the 1x1 without padding; the
  // 3x1 padded along H only, as the temporal conv over (frames, pixels); the stride-2 one as the downsamplers)
  for (auto [kh, kw, h, cin, cout, s] : std::vector<std::tuple<int, int, int, int, int, int>>{
           {3, 3, 9, 8, 24, 1}, {3, 3, 11, 16, 40, 2}, {3, 3, 7, 64, 40, 1}, {1, 1, 6, 128, 24, 1}, {3, 1, 5, 64, 24, 1},
           {3, 3, 17, 64, 24, 2}}) {
    Side X = conv_input(2, h, h + 2, cin, kh, kw, s, kh / 2, kw / 2);
    auto at = X.at;
    int k = kh * kw * cin, pixels = (int)X.o.rows;
    char what[64];
    Side A = X;
    A.at = [at](int bi, int q) { return at(bi % 100000, q); };
    Side W = dense(true, 1, cout, k, k);
    snprintf(what, sizeof what, "conv %dx%d s%d %d->%d", kh, kw, s, cin, cout);
    fails += check<BN, true, true, WS>(what, 1, pixels, cout, k, A, W, true);
    Side G = dense(false, 1, cout, pixels, cout + 8), B = X;
    B.at = [at](int bi, int px) { return at(px, bi % 100000); };
    snprintf(what, sizeof what, "conv %dx%d s%d %d->%d dW", kh, kw, s, cin, cout);
    fails += check<BN, false, false, WS>(what, 1, cout, k, pixels, G, B, false);
  }
  return fails;
}

template <int BN, bool WS>
static int suite() {
  return layouts<BN, true, true, WS>() + layouts<BN, true, false, WS>() + layouts<BN, false, true, WS>() + layouts<BN, false, false, WS>() +
         convs<BN, WS>();
}

int main() {
  int fails = suite<128, false>() + suite<256, false>() + suite<128, true>() + suite<256, true>();
  // tile_of's grouped order: the first GROUP_M * tiles_n tiles cover exactly the first GROUP_M tile rows
  for (int tm = 1; tm < 20; tm++)
    for (int tn = 1; tn < 7; tn++) {
      std::set<int> rows;
      int cover = (tm < GROUP_M ? tm : GROUP_M) * tn;
      for (int t = 0; t < cover; t++) { int b, r, c; tile_of(t, tm, tn, b, r, c); rows.insert(r); }
      if ((int)rows.size() != (tm < GROUP_M ? tm : GROUP_M) || *rows.rbegin() != (int)rows.size() - 1) { printf("FAIL: tile_of grouping %dx%d\n", tm, tn); fails++; }
    }
  if (fails) { printf("%d case(s) FAILED\n", fails); return 1; }
  printf("all cases passed\n");
  return 0;
}
