// Host check of kernels/gemm_wgmma.cu's index arithmetic (no GPU needed): runs the kernel's persistent tile
// schedule (tile_of), its tile copies (load_tile's chunk -> slot mapping) into an emulated shared memory whose ring
// starts where the kernel's alignment puts it, its matrix descriptors as it builds them (k slices by + 2), a wgmma
// emulated from the PTX manual's description (a K-major operand in the 128-byte swizzle: row r, element k at
// start + (r / 8) * stride_byte_offset + (r % 8) * 128 + 2k, bits 4-6 of the address XORed with bits 7-9; D's
// fragment: warp w of the warpgroup holds rows 16w.., thread t rows t/4 and t/4 + 8, columns 2(t%4), +1 of every 8),
// its staging of the accumulators and its epilogue walk (plain, bias, GEGLU), against a triple loop or a direct
// convolution. Catches a wrong descriptor field, k-slice advance, warpgroup or B offset, swizzle/slot mismatch, tile
// order gap, edge mask or GEGLU pairing; not races or the memory ordering (the GPU op harness covers those).
//   nvcc -std=c++17 -o /tmp/gwc kernels/check/gemm_wgmma_host_check.cu && /tmp/gwc
#define GEMM_WGMMA_INDEX_ONLY
#include "../gemm_wgmma.cu"
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

static Side dense(int batch, int mn, int k, int ld) {
  Side d;
  long long bs = (long long)mn * ld + 8;  // a batch stride that is not just the matrix size
  d.mem = std::make_shared<std::vector<float>>((size_t)(batch * bs));
  for (auto& x : *d.mem) x = rnd();
  d.o = Operand{ld, bs, mn, k, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  return d;
}

// The A of a forward conv: rows = output pixels of x (n, h, w, cin), columns (ky, kx, ci).
static Side conv_input(int n, int h, int w, int cin, int kh, int kw, int s, int p) {
  Side d;
  d.mem = std::make_shared<std::vector<float>>((size_t)n * h * w * cin);
  for (auto& x : *d.mem) x = rnd();
  int ho = (h + 2 * p - kh) / s + 1, wo = (w + 2 * p - kw) / s + 1;
  d.o = Operand{0, 0, (long long)n * ho * wo, (long long)kh * kw * cin, 1, h, w, cin, kw, ho, wo, s, s, p, p};
  auto m = d.mem;
  d.at = [=](int px, int q) {
    int b = px / (ho * wo), oy = px / wo % ho, ox = px % wo, ky = q / (kw * cin), kx = q / cin % kw, ci = q % cin;
    int iy = oy * s - p + ky, ix = ox * s - p + kx;
    return (iy < 0 || iy >= h || ix < 0 || ix >= w) ? 0.f : (*m)[(((size_t)b * h + iy) * w + ix) * cin + ci];
  };
  return d;
}

// One product C (batch x m x n) = A B^T through the kernel's schedule; half = D for GEGLU (C has D columns).
template <int BN>
static std::vector<float> run(int batch, int m, int n, int k, const Side& A, const Side& B, const std::vector<float>& bias, int half) {
  using Cf = Cfg<BN>;
  const unsigned raw = 3000, pad = (1024 - raw % 1024) % 1024, ring = raw + pad;  // the kernel's alignment of a dynamic base
  std::vector<float> smem((ring + STAGES * Cf::STAGE_BYTES) / 2, NAN);
  constexpr int LD = staged_ld<BN>();
  const int nc = half ? half : n;
  std::vector<float> C((size_t)batch * m * nc, NAN);
  const int tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN, ktiles = (k + BK - 1) / BK, total = tiles_m * tiles_n * batch;
  std::set<std::tuple<int, int, int>> seen;
  for (int t = 0; t < total; t++) {
    int b, tm, tn;
    tile_of(t, tiles_m, tiles_n, b, tm, tn);
    if (b < 0 || b >= batch || tm < 0 || tm >= tiles_m || tn < 0 || tn >= tiles_n || !seen.insert({b, tm, tn}).second) {
      printf("FAIL: tile_of(%d) = (%d, %d, %d): out of range or repeated\n", t, b, tm, tn); exit(1);
    }
    const int bm = tm * BM, bn = tn * BN;
    float acc[2][128][BN / 8][4] = {};
    for (int kt = 0; kt < ktiles; kt++) {
      const unsigned stage = ring + kt % STAGES * Cf::STAGE_BYTES;
      auto load = [&](const Side& g, int rows, unsigned base, int mn0, int hf) {  // load_tile<true, rows, BK, THREADS>
        std::vector<bool> written(rows * BK / 8, false);
        for (int i = 0; i < rows * BK / 8; i++) {
          int r, c, dst = rows == BM ? tile_chunk<true, BM, BK>(i, r, c) : tile_chunk<true, BN, BK>(i, r, c), row, col;
          if (written.at(dst)) { printf("FAIL: slot %d written twice\n", dst); exit(1); }
          written[dst] = true;
          tile_coords<true>(r, c, mn0, kt * BK, hf, row, col);
          long long off = 0;
          bool valid = locate(g.o, row, col, off);
          for (int e = 0; e < 8; e++) smem[base / 2 + dst * 8 + e] = valid ? g.mem->at(b * g.o.bs + off + e) : 0.f;
        }
      };
      load(A, BM, stage, bm, 0);
      load(B, BN, stage + Cf::A_BYTES, bn, half);
      auto element = [&](uint64_t desc, int r, int kk) {  // the emulated hardware read of a descriptor's operand
        if (desc >> 62 != 1) { printf("FAIL: descriptor swizzle mode %d\n", (int)(desc >> 62)); exit(1); }
        unsigned start = (unsigned)(desc & 0x3FFF) << 4, sbo = (unsigned)(desc >> 32 & 0x3FFF) << 4;
        unsigned byte = start + r / 8 * sbo + r % 8 * 128 + kk * 2;
        byte ^= (byte >> 7 & 7) << 4;
        return smem.at(byte / 2);
      };
      for (int g = 0; g < 2; g++) {
        const uint64_t da = a_descriptor(stage, g), db = b_descriptor<BN>(stage);
        for (int ks = 0; ks < BK / 16; ks++)
          for (int th = 0; th < 128; th++)
            for (int j = 0; j < BN / 8; j++)
              for (int e = 0; e < 4; e++) {
                int row = 16 * (th / 32) + th % 32 / 4 + 8 * (e / 2), col = 8 * j + 2 * (th % 4) + e % 2;
                float s = 0;
                for (int kk = 0; kk < 16; kk++) s += element(slice(da, ks), row, kk) * element(slice(db, ks), col, kk);
                acc[g][th][j][e] += s;
              }
      }
    }
    std::vector<float> staged((size_t)BM * LD, NAN);
    for (int g = 0; g < 2; g++)
      for (int w = 0; w < 4; w++)
        for (int j = 0; j < BN / 8; j++)
          for (int e = 0; e < 4; e += 2) {
            std::set<int> banks[2];
            for (int lane = 0; lane < 32; lane++) {
              int at = staged_at<BN>(g, w, lane, j, e);
              if (at % 2 || staged_at<BN>(g, w, lane, j, e + 1) != at + 1) { printf("FAIL: staged pair not an aligned float2\n"); exit(1); }
              if (!std::isnan(staged.at(at))) { printf("FAIL: staged element %d written twice\n", at); exit(1); }
              staged[at] = acc[g][32 * w + lane][j][e];
              staged[at + 1] = acc[g][32 * w + lane][j][e + 1];
              banks[lane / 16].insert(at % 32 / 2);  // 8-byte stores: a half warp per phase
            }
            if (banks[0].size() != 16 || banks[1].size() != 16) { printf("FAIL: bank conflict staging block %d\n", j); exit(1); }
          }
    auto bias_at = [&](int col) { return bias.empty() || col >= n ? 0.f : bias[half ? geglu_source(col, half) : col]; };
    if (half) {
      for (int idx = 0; idx < BM * BN / 2; idx++) {
        int r = idx / (BN / 2), p = geglu_staged_column(idx % (BN / 2)), row = bm + r, col = bn + p;
        if (row < m && col < n) {
          // the gelu is the same function on both sides: store value and gate (as value + 1000 * gate) to check pairing
          float v = staged[r * LD + p] + bias_at(col), gt = staged[r * LD + p + 8] + bias_at(col + 8);
          size_t o = ((size_t)b * m + row) * nc + geglu_source(col, half);
          if (!std::isnan(C[o])) { printf("FAIL: GEGLU output written twice\n"); exit(1); }
          C[o] = v + 1000 * gt;
        }
      }
    } else {
      for (int idx = 0; idx < BM * BN; idx++) {
        int r = idx / BN, c = idx % BN, row = bm + r, col = bn + c;
        if (row < m && col < n) C[((size_t)b * m + row) * n + col] = staged[r * LD + c] + bias_at(col);
      }
    }
  }
  return C;
}

template <int BN>
static int check(const char* what, int batch, int m, int n, int k, const Side& A, const Side& B, bool with_bias, int half = 0) {
  std::vector<float> bias;
  if (with_bias) { bias.resize(n); for (auto& x : bias) x = rnd(); }
  std::vector<float> C = run<BN>(batch, m, n, k, A, B, bias, half);
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
  printf("%s %s, 128x%d tile, batch=%d m=%d n=%d k=%d: %d of %d wrong\n", bad ? "FAIL" : "ok  ", what, BN, batch, m, n, k, bad, batch * m * nc);
  return bad != 0;
}

// logical accessors for dense sides: (b * 100000 + mn, k), so one lambda serves every batch entry
static void dense_at(Side& s) {
  auto m = s.mem;
  long long ld = s.o.ld, bs = s.o.bs;
  s.at = [m, ld, bs](int bi, int kk) { return (*m)[(size_t)(bi / 100000 * bs + (long long)(bi % 100000) * ld + kk)]; };
}

template <int BN>
static int suite() {
  int fails = 0;
  for (auto [batch, m, n, k] : std::vector<std::tuple<int, int, int, int>>{{1, 200, 300, 136}, {2, 72, 520, 64}, {3, 130, 16, 8}, {1, 1100, 136, 200}}) {
    Side A = dense(batch, m, k, k + 8), B = dense(batch, n, k, k);
    dense_at(A); dense_at(B);
    fails += check<BN>("dense", batch, m, n, k, A, B, (m + n) % 2 == 0);
  }
  for (auto [h, cin, cout, s] : std::vector<std::tuple<int, int, int, int>>{{9, 8, 24, 1}, {11, 16, 40, 2}}) {
    Side A = conv_input(2, h, h + 2, cin, 3, 3, s, 1);
    auto inner = A.at;
    A.at = [inner](int bi, int q) { return inner(bi % 100000, q); };
    int k = 9 * cin;
    Side W = dense(1, cout, k, k);
    dense_at(W);
    char what[64];
    snprintf(what, sizeof what, "conv 3x3 s%d %d->%d", s, cin, cout);
    fails += check<BN>(what, 1, (int)A.o.rows, cout, k, A, W, true);
  }
  for (auto [m, d, k] : std::vector<std::tuple<int, int, int>>{{150, 136, 72}, {64, 8, 16}, {260, 320, 40}}) {
    Side A = dense(1, m, k, k), B = dense(1, 2 * d, k, k);
    dense_at(A); dense_at(B);
    fails += check<BN>("geglu", 1, m, 2 * d, k, A, B, true, d);
  }
  return fails;
}

int main() {
  int fails = suite<128>() + suite<256>();
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
