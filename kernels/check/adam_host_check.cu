// Host check of kernels/adam.cu's launch mapping (no GPU needed): builds the launch table the way
// CudaBackend.adamTable does (block starts, then 8 words per tensor) for many random tensor-size lists, runs the
// kernel's own adam_block for every block of the grid, and fails unless every element of every tensor is covered
// exactly once and no block reaches past its tensor or its chunk. Also checks that the AdamTensor struct reads the
// words in the order the Java side writes them. The per-element update is not covered here (the op harness
// compares it with the CPU on a GPU).
//   nvcc -std=c++17 -o /tmp/ahc kernels/check/adam_host_check.cu && /tmp/ahc
#include "../adam.cu"
#include <stdio.h>
#include <stdlib.h>
#include <random>
#include <vector>

static int failures = 0;

#define CHECK(cond, ...)                 \
  do {                                   \
    if (!(cond)) {                       \
      printf("FAIL: " __VA_ARGS__);      \
      printf("\n");                      \
      if (++failures > 20) exit(1);      \
      return;                            \
    }                                    \
  } while (0)

// The table as CudaBackend.adamTable lays it out; field words get recognisable fake values (tensor t, word k ->
// 1000 t + k) so the layout check can tell them apart.
static std::vector<long long> table_for(const std::vector<long long>& n, long long chunk) {
  int nt = (int)n.size();
  std::vector<long long> w(nt + 1 + 8 * (size_t)nt);
  for (int t = 0; t < nt; t++) {
    w[t + 1] = w[t] + (n[t] + chunk - 1) / chunk;
    long long* f = &w[nt + 1 + 8 * (size_t)t];
    f[0] = n[t];
    for (int k = 1; k < 8; k++) f[k] = 1000LL * t + k;
  }
  return w;
}

static void check_layout() {
  std::vector<long long> n = {5, 0, 7};
  std::vector<long long> w = table_for(n, 4);
  const AdamTensor* T = adam_tensors(w.data(), 3);
  for (int t = 0; t < 3; t++) {
    long long base = 1000LL * t;
    CHECK(T[t].n == n[t] && (long long)T[t].p == base + 1 && (long long)T[t].g == base + 2 && (long long)T[t].m == base + 3 &&
              (long long)T[t].v == base + 4 && (long long)T[t].low == base + 5 && T[t].tg == base + 6 && T[t].tl == base + 7,
          "AdamTensor %d does not read the words n, p, g, m, v, low, tg, tl in order", t);
  }
}

static long long cases = 0, blocks_checked = 0;

static void check_cover(const std::vector<long long>& n, long long chunk) {
  int nt = (int)n.size();
  std::vector<long long> w = table_for(n, chunk);
  std::vector<std::vector<unsigned char>> seen(nt);
  for (int t = 0; t < nt; t++) seen[t].assign((size_t)n[t], 0);
  long long grid = w[nt];
  for (long long b = 0; b < grid; b++) {
    AdamRange r = adam_block(w.data(), nt, chunk, b);
    CHECK(r.t >= 0 && r.t < nt, "block %lld of %lld maps to tensor %d of %d (chunk %lld)", b, grid, r.t, nt, chunk);
    CHECK(0 <= r.begin && r.begin < r.end && r.end <= n[r.t] && r.end - r.begin <= chunk,
          "block %lld: tensor %d of %lld elements, range [%lld, %lld) (chunk %lld)", b, r.t, n[r.t], r.begin, r.end, chunk);
    for (long long i = r.begin; i < r.end; i++) seen[r.t][i]++;
  }
  blocks_checked += grid;
  for (int t = 0; t < nt; t++)
    for (long long i = 0; i < n[t]; i++)
      CHECK(seen[t][i] == 1, "tensor %d of %d (%lld elements, chunk %lld): element %lld covered %d times", t, nt, n[t], chunk, i,
            seen[t][i]);
  cases++;
}

int main() {
  check_layout();
  std::mt19937_64 rng(20261201);
  // The chunk CudaBackend uses (2048), and others so that sizes straddle chunk boundaries in every way.
  const long long chunks[] = {2048, 1, 3, 256, 1000};
  // Hand-picked lists: empties first, last, in a row, alone beside one element; single tensors at chunk edges.
  std::vector<std::vector<long long>> fixed = {{0},       {1},          {0, 0, 0},        {0, 5, 0},       {5, 0, 0, 0},
                                               {0, 0, 7}, {1, 0, 1, 0}, {2047, 2048, 2049}, {4096, 0, 1, 4095}, {6143}};
  for (long long chunk : chunks)
    for (auto& n : fixed) check_cover(n, chunk);
  for (int iter = 0; iter < 400; iter++) {
    long long chunk = chunks[iter % 5];
    int nt = 1 + (int)(rng() % (iter % 4 == 0 ? 2000 : 40));   // some as long as the UNet's 1,664 tensors
    std::vector<long long> n(nt);
    long long total = 0;
    for (auto& x : n) {
      switch (rng() % 8) {
        case 0: x = 0; break;
        case 1: x = 1; break;
        case 2: x = chunk * (long long)(1 + rng() % 3) + (long long)(rng() % 3) - 1; break;   // at a chunk edge
        case 3: x = (long long)(rng() % 200000); break;
        default: x = (long long)(rng() % 5000); break;
      }
      total += x;
    }
    if (total > 20000000) continue;   // keep the coverage bitmap small
    check_cover(n, chunk);
  }
  if (failures) {
    printf("adam_host_check: %d failure(s)\n", failures);
    return 1;
  }
  printf("adam_host_check: OK (%lld tensor lists, %lld blocks: every element covered exactly once)\n", cases, blocks_checked);
  return 0;
}
