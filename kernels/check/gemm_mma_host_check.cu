// Host check of kernels/gemm_mma.cu's index arithmetic (no GPU needed): runs the kernel's block / warp / k-step
// schedule on the CPU with its own tile_chunk, slot, a_frag_slot, b_frag_slot, acc_row and acc_col, each thread's
// copies as with_copy_kinds and the copy kinds (DenseCopies, TileRows, TileTaps, GatherEach) make them, but with
// ldmatrix and mma.sync emulated from the fragment layouts the PTX manual states, and compares every product with
// a plain triple loop. Catches a wrong lane mapping, swizzle collision, ldmatrix bank conflict, copy offset or edge
// mask; not races or the cp.async pipeline (the GPU op harness covers those).
//   nvcc -std=c++17 -o /tmp/gmc kernels/check/gemm_mma_host_check.cu && /tmp/gmc
#define GEMM_MMA_INDEX_ONLY  // no device entry points: ptxas on them took minutes
#include "../gemm_mma.cu"
#include "mma_emulation.h"
#include "store_walk.h"
#include "copy_walk.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <functional>
#include <memory>
#include <vector>

using namespace mma;

// One operand: its memory (as float: only indexing is checked), the kernel's Operand description of it, and
// the logical value at (mn, k) computed independently of the kernel's code (plain indexing; a gather's by
// copy_walk.h's operand_element).
struct Side {
  std::shared_ptr<std::vector<float>> mem;
  Operand o;
  std::function<float(int mn, int k)> at;
};

// Fills the k step's A and B tiles the way the block's threads do: per thread, with_copy_kinds picks how its copies
// find their memory (DenseCopies, TileRows, TileTaps or GatherEach, made for that thread), then copy_walk runs its
// copies (vector::at: an offset outside the operand fails loudly; every element is checked against the operand's
// value, zero past its edges). Every slot once.
template <bool AK, bool BKM, class T>
static void load(Chunk* sa, Chunk* sb, const Side& A, const Side& B, int bm, int bn, int k0, int half) {
  std::vector<bool> wa(T::BM * BK / 8, false), wb(T::BN * BK / 8, false);
  auto into = [](Chunk* s) {
    return [s](int dst, const float* v) { for (int e = 0; e < 8; e++) s[dst][e] = v[e]; };
  };
  for (int tid = 0; tid < T::THREADS; tid++)
    with_copy_kinds<AK, BKM, T::BM, T::BN, BK, T::THREADS>(A.o, B.o, bm, bn, half, tid, [&](const auto& how_a, const auto& how_b) {
      copy_walk<AK, T::BM, BK, T::THREADS, false>(wa, A.o, how_a, tid, bm, k0, 0, *A.mem, 0, into(sa));
      copy_walk<BKM, T::BN, BK, T::THREADS, false>(wb, B.o, how_b, tid, bn, k0, half, *B.mem, 0, into(sb));
    });
  require_written(wa, "A");
  require_written(wb, "B");
}

static float rnd() { return (float)(rand() % 7 - 3); }

// A dense operand (mn x k logical) stored K-major (row mn, ld k) or MN-major (row k, ld mn).
static Side dense(bool kmajor, int mn, int k) {
  Side d;
  d.mem = std::make_shared<std::vector<float>>((size_t)mn * k);
  for (auto& x : *d.mem) x = rnd();
  long long ld = kmajor ? k : mn;
  d.o = Operand{ld, 0, kmajor ? mn : k, kmajor ? k : mn, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  auto m = d.mem;
  d.at = [m, kmajor, ld](int i, int kk) { return kmajor ? (*m)[(size_t)i * ld + kk] : (*m)[(size_t)kk * ld + i]; };
  return d;
}

// im2col of a channels-last image x (n, h, w, cin) for a kh x kw conv: memory rows are output pixels, columns
// (ky, kx, ci). Logically (pixel, column) as the A of a forward conv; (column, pixel) as the B of a weight gradient:
// both views are returned, over the same memory.
static std::pair<Side, Side> gather(int n, int h, int w, int cin, int kh, int kw, int sh, int sw, int pt, int pl) {
  Side d;
  d.mem = std::make_shared<std::vector<float>>((size_t)n * h * w * cin);
  for (auto& x : *d.mem) x = rnd();
  int ho = (h + 2 * pt - kh) / sh + 1, wo = (w + 2 * pl - kw) / sw + 1;
  d.o = with_divisors(Operand{0, 0, (long long)n * ho * wo, (long long)kh * kw * cin, 1, h, w, cin, kw, ho, wo, sh, sw, pt, pl, 1, 1});
  const Operand o = d.o;
  auto m = d.mem;
  auto at = [o, m](int p, int q) { return operand_element(o, *m, 0, p, q); };
  Side t = d;
  d.at = at;
  t.at = [at](int q, int p) { return at(p, q); };
  return {d, t};
}

// The accumulators of block tile (bm, bn) after the kernel's k loop: acc[warp][i][q][lane][e] (up to 8 warps).
// half: a GEGLU product. T: the block tile (WM x WN warps of WARP_M x WARP_N).
typedef float Acc[8][4][4][32][4];
template <bool AK, bool BKM, class T>
static void accumulate(Acc& acc, int bm, int bn, int k, const Side& A, const Side& B, int half) {
  constexpr int WN = T::BN / WARP_N, ACPR = chunks_per_row<AK, T::BM, BK>(), BCPR = chunks_per_row<BKM, T::BN, BK>();
  static Chunk sa[T::BM * BK / 8], sb[T::BN * BK / 8];
  for (auto* p = &acc[0][0][0][0][0]; p != &acc[0][0][0][0][0] + sizeof(Acc) / sizeof(float); p++) *p = 0;
  for (int k0 = 0; k0 < k; k0 += BK) {
    load<AK, BKM, T>(sa, sb, A, B, bm, bn, k0, half);
    for (int warp = 0; warp < T::THREADS / 32; warp++) {
      int wm = (warp / WN) * WARP_M, wn = (warp % WN) * WARP_N;
      for (int kk = 0; kk < BK; kk += 16) {
        static float af[4][32][4][2], bf[4][32][2][2];
        for (int i = 0; i < 4; i++) {
          int slots[32];
          for (int l = 0; l < 32; l++) slots[l] = a_frag_slot<AK, ACPR>(l, wm + i * 16, kk);
          ldmatrix(af[i], sa, slots, !AK);
        }
        for (int p = 0; p < 2; p++) {
          int slots[32];
          float r[32][4][2];
          for (int l = 0; l < 32; l++) slots[l] = b_frag_slot<BKM, BCPR>(l, wn + p * 16, kk);
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
}

// The kernel's epilogue for block tile (bm, bn): per 64-row band, that band's warps stage their accumulators
// (staged_at: aligned float2 stores, each element once, no bank conflicts, inside the stages' memory), then
// store_tile's walk hands every element of C to plain / geglu (store_walk).
template <class T, class Plain, class Geglu>
static void finish(const Acc& acc, int bm, int bn, int m, int n, int half, Plain plain, Geglu geglu) {
  constexpr int WN = T::BN / WARP_N, LD = staged_ld<T::BN>();
  if (WARP_M * LD * 4 > T::POOL * 16) { printf("FAIL: a staged band does not fit the stages' memory\n"); exit(1); }
  for (int band = 0; band < T::BM / WARP_M; band++) {
    std::vector<float> staged((size_t)WARP_M * LD, NAN);
    for (int warp = 0; warp < T::THREADS / 32; warp++) {
      if (warp / WN != band) continue;
      const int wn = (warp % WN) * WARP_N;
      for (int i = 0; i < 4; i++)
        for (int q = 0; q < 4; q++)
          for (int e = 0; e < 4; e += 2) {
            int at[32];
            for (int l = 0; l < 32; l++) {
              at[l] = staged_at<T::BN>(l, wn, i, q, e);
              stage_pair(staged, at[l], staged_at<T::BN>(l, wn, i, q, e + 1), acc[warp][i][q][l][e], acc[warp][i][q][l][e + 1]);
            }
            if (!conflict_free_float2(at)) { printf("FAIL: bank conflict staging fragment (%d, %d)\n", i, q); exit(1); }
          }
    }
    store_walk<T::BN>(staged, WARP_M, bm + band * WARP_M, bn, m, n, half, plain, geglu);
  }
}

static void no_geglu(int, int, float, float) { printf("FAIL: a GEGLU output from a plain product\n"); exit(1); }

// C (m x n) = A (m x k) B (k x n) through the kernel's schedule; B's Side is indexed (n, k). Compared with
// sum_k A(i, k) B(k, j), or with ref(i, j) when given (a formulation checked against its definition).
template <bool AK, bool BKM, class T>
static int check(const char* what, int m, int n, int k, const Side& A, const Side& B,
                 std::function<double(int, int)> ref = nullptr) {
  std::vector<float> C((size_t)m * n, NAN);
  static Acc acc;
  for (int bm = 0; bm < m; bm += T::BM)
    for (int bn = 0; bn < n; bn += T::BN) {
      accumulate<AK, BKM, T>(acc, bm, bn, k, A, B, 0);
      finish<T>(acc, bm, bn, m, n, 0, [&](int row, int col, float v) { C[(size_t)row * n + col] = v; }, no_geglu);
    }
  int bad = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double want = 0;
      if (ref) want = ref(i, j);
      else for (int kk = 0; kk < k; kk++) want += (double)A.at(i, kk) * B.at(j, kk);
      float got = C[(size_t)i * n + j];
      if (!(got == (float)want) && bad++ < 5) printf("  (%d,%d): got %g want %g\n", i, j, got, want);
    }
  printf("%s %s, %dx%d tile, A %s-major, B %s-major, m=%d n=%d k=%d: %d of %d wrong\n", bad ? "FAIL" : "ok  ", what, T::BM,
         T::BN, AK ? "K" : "M", BKM ? "K" : "N", m, n, k, bad, m * n);
  return bad != 0;
}

// A GEGLU product: x (m x k) times the projection W (2d x k, value rows then gate rows) with bias (2d), through the
// kernel's remapped B tile loads and its epilogue pairing (staged column p with p + 8, output column and bias index
// from geglu_source). The value and the gate each output receives are compared with sum_k x W[j] + bias[j] and
// sum_k x W[d + j] + bias[d + j] (the gelu itself is the same function on both sides, so the pairing is what counts).
template <bool AK, bool BKM, class T>
static int check_geglu(int m, int d, int k) {
  Side A = dense(AK, m, k), B = dense(BKM, 2 * d, k);
  std::vector<float> bias(2 * d), V((size_t)m * d, NAN), G((size_t)m * d, NAN);
  for (auto& x : bias) x = rnd();
  static Acc acc;
  int n = 2 * d;
  for (int bm = 0; bm < m; bm += T::BM)
    for (int bn = 0; bn < n; bn += T::BN) {
      accumulate<AK, BKM, T>(acc, bm, bn, k, A, B, d);
      finish<T>(acc, bm, bn, m, n, d, [](int, int, float) { printf("FAIL: a plain output from a GEGLU product\n"); exit(1); },
                [&](int row, int col, float v, float g) {
                  // bias as column_bias loads it: the value's product column, the gate's (col + 8) while inside n
                  size_t o = (size_t)row * d + geglu_source(col, d);
                  if (!std::isnan(V[o])) { printf("FAIL: geglu output (%d,%d) written twice\n", row, geglu_source(col, d)); exit(1); }
                  V[o] = v + bias[geglu_source(col, d)];
                  G[o] = g + (col + 8 < n ? bias[geglu_source(col + 8, d)] : 0.f);
                });
    }
  int bad = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < d; j++) {
      double v = bias[j], g = bias[d + j];
      for (int kk = 0; kk < k; kk++) {
        v += (double)A.at(i, kk) * B.at(j, kk);
        g += (double)A.at(i, kk) * B.at(d + j, kk);
      }
      size_t o = (size_t)i * d + j;
      if (!(V[o] == (float)v && G[o] == (float)g) && bad++ < 5)
        printf("  (%d,%d): value %g gate %g, want %g %g\n", i, j, V[o], G[o], v, g);
    }
  printf("%s geglu, %dx%d tile, A %s-major, B %s-major, m=%d d=%d k=%d: %d of %d wrong\n", bad ? "FAIL" : "ok  ", T::BM,
         T::BN, AK ? "K" : "M", BKM ? "K" : "N", m, d, k, bad, m * d);
  return bad != 0;
}

template <bool AK, bool BKM, class T>
static int dense_case(int m, int n, int k) {
  return check<AK, BKM, T>("dense", m, n, k, dense(AK, m, k), dense(BKM, n, k));
}

// Every case through block tile T; returns the number failed, counts into cases.
template <class T>
static int tile_cases(int& cases) {
  int fails = 0;
  // Dense shapes: one full tile, edges in every direction (M, N, K not multiples of 128 / 128 / 32), K of one chunk.
  const int shapes[][3] = {{128, 128, 32}, {136, 200, 72}, {8, 16, 8}, {264, 136, 104}};
  for (auto& s : shapes) {
    fails += dense_case<true, true, T>(s[0], s[1], s[2]);
    fails += dense_case<true, false, T>(s[0], s[1], s[2]);
    fails += dense_case<false, true, T>(s[0], s[1], s[2]);
    fails += dense_case<false, false, T>(s[0], s[1], s[2]);
    cases += 4;
  }
  // GEGLU products (the feed-forward's projection): D a multiple of 16, of 8 only, one partial block tile, several.
  const int gg[][3] = {{136, 64, 40}, {72, 24, 32}, {40, 200, 16}};
  for (auto& g : gg) {
    fails += check_geglu<true, true, T>(g[0], g[1], g[2]);
    fails += check_geglu<true, false, T>(g[0], g[1], g[2]);
    cases += 2;
  }
  // Implicit-GEMM convolutions: 3x3 pad 1 stride 1, 3x3 stride 2 pad 1 (the downsampler), 1x1.
  // Forward y = im2col(x) w^T: A gathered K-major, B = w (cout, kk) K-major. Weight gradient
  // dW = gy^T im2col(x): A = gy (pixels, cout) M-major, B gathered N-major.
  const int convs[][9] = {{2, 9, 11, 16, 24, 3, 3, 1, 1}, {1, 12, 10, 8, 16, 3, 3, 2, 1}, {2, 5, 7, 24, 8, 1, 1, 1, 0}};
  for (auto& c : convs) {
    int nb = c[0], h = c[1], w = c[2], cin = c[3], cout = c[4], kh = c[5], kw = c[6], st = c[7], pad = c[8];
    auto [x, xb] = gather(nb, h, w, cin, kh, kw, st, st, pad, pad);
    int pix = (int)x.o.rows, kk = (int)x.o.cols;
    char what[96];
    snprintf(what, sizeof what, "conv %dx%d s%d p%d %d->%d forward", kh, kw, st, pad, cin, cout);
    fails += check<true, true, T>(what, pix, cout, kk, x, dense(true, cout, kk));
    snprintf(what, sizeof what, "conv %dx%d s%d p%d %d->%d weight grad", kh, kw, st, pad, cin, cout);
    fails += check<false, false, T>(what, cout, kk, pix, dense(false, cout, pix), xb);
    cases += 2;
  }
  // Backward input as CudaBackend.backwardInputImplicit forms it: dx = im2col(gy as an Ho x Wo image of Cout
  // channels, dilated by the stride, padded kh-1-pad) times the flipped weights wf (kh, kw, Cout, Cin) read N-major
  // (conv.cu's flip_weights, transcribed), against dx's definition: dx[b,iy,ix,ci] = sum gy[b,oy,ox,co] w[co,ky,kx,ci]
  // over oy = (iy + pad - ky) / st, ox = (ix + pad - kx) / st where they divide, inside gy.
  const int bwd[][8] = {{2, 9, 11, 16, 24, 3, 1, 1}, {1, 6, 5, 8, 16, 3, 0, 1}, {1, 7, 6, 8, 8, 3, 2, 1},
                        {2, 9, 11, 16, 24, 3, 1, 2}, {1, 8, 8, 8, 16, 3, 1, 2}, {1, 10, 7, 8, 8, 3, 0, 2}, {1, 11, 9, 8, 16, 3, 2, 3}};
  for (auto& c : bwd) {
    int nb = c[0], h = c[1], w = c[2], cin = c[3], cout = c[4], kk = c[5], pad = c[6], st = c[7];
    int ho = (h + 2 * pad - kk) / st + 1, wo = (w + 2 * pad - kk) / st + 1;
    auto gy = std::make_shared<std::vector<float>>((size_t)nb * ho * wo * cout);
    auto wt = std::make_shared<std::vector<float>>((size_t)cout * kk * kk * cin);
    auto wf = std::make_shared<std::vector<float>>(wt->size());
    for (auto& x : *gy) x = rnd();
    for (auto& x : *wt) x = rnd();
    for (size_t i = 0; i < wf->size(); i++) {  // flip_weights
      int ci = (int)(i % cin);
      size_t r = i / cin;
      int co = (int)(r % cout), kx = (int)((r / cout) % kk), ky = (int)(r / ((size_t)cout * kk));
      (*wf)[i] = (*wt)[(((size_t)co * kk + (kk - 1 - ky)) * kk + (kk - 1 - kx)) * cin + ci];
    }
    Side A;
    A.mem = gy;
    A.o = with_divisors(Operand{0, 0, (long long)nb * h * w, (long long)kk * kk * cout, 1, ho, wo, cout, kk, h, w, 1, 1, kk - 1 - pad, kk - 1 - pad, st, st});
    A.at = [](int, int) { return 0.f; };  // unused: compared with the definition below
    Side B;
    B.mem = wf;
    B.o = Operand{cin, 0, (long long)kk * kk * cout, cin, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    B.at = A.at;
    auto def = [=](int p, int ci) {
      int b = p / (h * w), iy = (p / w) % h, ix = p % w;
      double sum = 0;
      for (int co = 0; co < cout; co++)
        for (int ky = 0; ky < kk; ky++)
          for (int kx = 0; kx < kk; kx++) {
            int ty = iy + pad - ky, tx = ix + pad - kx, oy = ty / st, ox = tx / st;
            if (ty < 0 || tx < 0 || ty % st || tx % st || oy >= ho || ox >= wo) continue;
            sum += (double)(*gy)[(((size_t)b * ho + oy) * wo + ox) * cout + co] * (*wt)[(((size_t)co * kk + ky) * kk + kx) * cin + ci];
          }
      return sum;
    };
    char what[96];
    snprintf(what, sizeof what, "conv %dx%d s%d p%d %d->%d backward input", kk, kk, st, pad, cin, cout);
    fails += check<true, false, T>(what, nb * h * w, cin, kk * kk * cout, A, B, def);
    cases++;
  }
  return fails;
}

// common.cuh's fast_div against the division it replaces: every divisor up to 3000 and some large ones, at
// random numerators and around multiples, up to 2^31 - 1; and the constants CudaGemmPlanTest expects of Java's
// CudaGemm.fastDivisor, so the two computations of the magic numbers agree.
static int fast_div_fails() {
  int fails = 0;
  const long long expect[][2] = {{1, 1}, {3, 1431655766ll | 2ll << 32}, {320, 2576980378ll | 9ll << 32}, {64, 1ll | 6ll << 32}};
  for (auto& e : expect)
    if (fast_divisor(e[0]) != e[1]) { printf("fast_divisor(%lld) = %llx, expected %llx\n", e[0], fast_divisor(e[0]), e[1]); fails++; }
  const long long max = (1ll << 31) - 1;
  auto check = [&](long long d) {
    const long long f = fast_divisor(d);
    auto one = [&](long long n) {
      if (n < 0 || n > max || fast_div((int)n, f) == n / d) return;
      if (fails++ < 5) printf("fast_div(%lld, %lld) = %d, expected %lld\n", n, d, fast_div((int)n, f), n / d);
    };
    for (int i = 0; i < 32; i++) one(((long long)rand() << 16 ^ rand()) % (max + 1));
    for (long long q : {1ll, 2ll, 3ll, max / d - 1, max / d})
      for (long long n : {q * d - 1, q * d, q * d + 1}) one(n);
    one(0);
    one(max);
  };
  for (long long d = 1; d <= 3000; d++) check(d);
  for (long long d : {9ll * 2560, 65535ll, 917504ll, 1ll << 20, max, 1ll << 31}) check(d);
  return fails;
}

int main() {
  srand(1);
  int cases = 0;
  if (int f = fast_div_fails()) { printf("fast_div: %d FAILED\n", f); return 1; }
  printf("fast_div: exact on every divisor checked\n");
  // The tiles gemm_mma.cu instantiates (GEMM_MMA_TILES).
  int fails = tile_cases<Tile<2, 4>>(cases) + tile_cases<Tile<2, 2>>(cases) + tile_cases<Tile<1, 4>>(cases);
  printf(fails ? "%d of %d FAILED\n" : "all %2$d cases passed\n", fails, cases);
  return fails != 0;
}
