// What the two tensor-core GEMM kernels share (gemm_mma.cu: mma.sync, sm_80+; gemm_wgmma.cu: wgmma, sm_90a): the
// operand description (dense or an im2col gather) and the cp.async tile copy into swizzled shared memory. The index
// functions are __host__ too, for kernels/check/*_host_check.cu.
#pragma once
#include "epilogue.cuh"
#include "mma.cuh"

namespace mma {

// The parameters every tensor-core GEMM entry point takes (gemm_mma.cu, gemm_wgmma.cu; CudaGemm.launchMma passes
// them): sizes, alpha, A and B with their Operand structs, beta, C (dtype, row / column / batch strides), bias
// (dtype), the residual (dtype, strides) and GEGLU's half width (0 for none).
#define GEMM_PARAMS                                                                                                 \
  int m, int n, int k, float alpha, const void *A, mma::Operand oa, const void *B, mma::Operand ob, float beta,     \
      void *C, int tc, long long crs, long long ccs, long long sbc, const void *bias, int tbias, const void *R,     \
      int tr, long long rrs, long long rcs, long long rbs, int half
// GEMM_PARAMS' epilogue arguments as the Out the shared epilogue (store_tile) takes.
#define GEMM_OUT mma::Out{m, n, alpha, beta, C, tc, crs, ccs, sbc, bias, tbias, Residual{R, tr, rrs, rcs, rbs}, half}

// One operand in memory terms: element (row, col) at row * ld + col (+ batch * bs) when dense; an im2col gather of
// x (N, H, W, Cin) when gather != 0. rows x cols bounds the zero fill (each below 2^31: CudaGemm.MAX_DIM, so the
// bounds are compared as int). dh, dw (a gather's: 1, or > 1 only for a strided convolution's input gradient): x is
// read dilated, dh - 1 rows and dw - 1 columns of zeros between its pixels, so that gradient is a stride-1 convolution
// of the output gradient. fcin, fkw, fwo, fho, fdh, fdw: fast_divisor of cin, kw, wo, ho, dh and dw (a gather's;
// with_divisors fills them). All long long so Java passes it as a long[] (CudaGemm.side).
struct Operand {
  long long ld, bs, rows, cols, gather, h, w, cin, kw, ho, wo, sh, sw, pt, pl, dh, dw, fcin, fkw, fwo, fho, fdh, fdw;
};

// A gather's Operand with its divisors filled in (the host checks' gathers; Java computes the same).
__host__ __device__ inline Operand with_divisors(Operand o) {
  o.fcin = fast_divisor(o.cin);
  o.fkw = fast_divisor(o.kw);
  o.fwo = fast_divisor(o.wo);
  o.fho = fast_divisor(o.ho);
  o.fdh = fast_divisor(o.dh);
  o.fdw = fast_divisor(o.dw);
  return o;
}

// Output pixel `row` of a gather (< its rows): its image b and the top-left corner (iy0, ix0) of its window in x
// (in dilated coordinates where x is read dilated). gemm_wgmma.cu's im2col_box places TMA windows with it too.
__host__ __device__ inline void window_of(const Operand& o, int row, int& b, int& iy0, int& ix0) {
  const int t = fast_div(row, o.fwo), ox = row - t * (int)o.wo;
  b = fast_div(t, o.fho);
  iy0 = (t - b * (int)o.ho) * (int)o.sh - (int)o.pt;
  ix0 = ox * (int)o.sw - (int)o.pl;
}

// Column `col` of a gather: its tap (ky, kx) and channel ci. 8 consecutive columns share one tap (Cin % 8 == 0).
__host__ __device__ inline void tap_of(const Operand& o, int col, int& ky, int& kx, int& ci) {
  const int tap = fast_div(col, o.fcin);
  ci = col - tap * (int)o.cin;
  ky = fast_div(tap, o.fkw);
  kx = tap - ky * (int)o.kw;
}

// A gather row's window (window_of): its corner packed as yx = (iy0 + 2^15) << 16 | (ix0 + 2^15) (CudaGemm keeps x's
// extents under 2^14), and the corner's element offset in x, at = ((b h + iy0) w + ix0) Cin mod 2^32. A tap adds
// its own offset to at (Tap): one add per copy, in 32 bits, where the product ((b h + iy) w + ix) Cin + ci took three
// multiplies, in 64 bits. Two registers per row where TileRows keeps them. A row past the operand's rows gets
// iy0 = -2^15: no tap brings it inside.
struct GatherRow {
  unsigned at, yx;
};

__host__ __device__ inline GatherRow gather_row(const Operand& o, int row) {
  int b, iy0, ix0;
  window_of(o, row, b, iy0, ix0);
  if (row >= (int)o.rows) iy0 = -32768;
  return {((unsigned)(b * (int)o.h + iy0) * (unsigned)o.w + (unsigned)ix0) * (unsigned)o.cin,
          (unsigned)(iy0 + 32768) << 16 | (unsigned)(ix0 + 32768)};
}

// A gather column's tap (tap_of) where TileRows uses it: (ky, kx) and its element offset from a window
// corner, at = (ky w + kx) Cin + ci. A column past the operand's columns gets ky = -2^15: no window corner
// (|iy0| < 2^15) brings it inside.
struct Tap {
  int ky, kx;
  unsigned at;
};

__host__ __device__ inline Tap tap_at(const Operand& o, int col) {
  int ky, kx, ci;
  tap_of(o, col, ky, kx, ci);
  const unsigned at = (unsigned)(ky * (int)o.w + kx) * (unsigned)o.cin + (unsigned)ci;
  return {col < (int)o.cols ? ky : -32768, kx, at};
}

// The element offset of a gather's element read as it is (not dilated), given its row's GatherRow and its column's
// Tap, or false where it reads zero (past the rows or columns, or in the padding). Inside x the sum mod 2^32 is the
// offset itself: x has at most 2^31 elements (CudaGemm.gatherFits).
__host__ __device__ inline bool gather_at(const Operand& o, const GatherRow& g, const Tap& t, unsigned& off) {
  const int iy = (int)(g.yx >> 16) - 32768 + t.ky, ix = (int)(g.yx & 0xffff) - 32768 + t.kx;
  off = g.at + t.at;  // where false, an offset the zero-filling copy does not read
  return (unsigned)iy < (unsigned)o.h && (unsigned)ix < (unsigned)o.w;
}

// The offset of x's element (b, iy, ix, ci), inside x: mod 2^32 it is the offset itself, x having at most 2^31
// elements (CudaGemm.gatherFits).
__host__ __device__ inline unsigned x_offset(const Operand& o, int b, int iy, int ix, int ci) {
  return ((unsigned)(b * (int)o.h + iy) * (unsigned)o.w + (unsigned)ix) * (unsigned)o.cin + (unsigned)ci;
}

// The element offset of a gather's (row, col), found from scratch (GatherEach: a copy on its own), or false
// where it reads zero: past the rows or columns, in the padding, or, where x is read dilated (a strided conv's input
// gradient: dh - 1 rows and dw - 1 columns of zeros between x's pixels), between x's pixels.
__host__ __device__ inline bool gather_element(const Operand& o, int row, int col, unsigned& off) {
  int b, iy, ix, ky, kx, ci;
  window_of(o, row, b, iy, ix);
  tap_of(o, col, ky, kx, ci);
  if (row >= (int)o.rows || col >= (int)o.cols) return false;
  iy += ky;
  ix += kx;
  // x's pixel: the position (in dilated coordinates) divided by (dh, dw), with no remainder; by fast_div (dh = dw = 1:
  // the identity) and without a branch. The / and % by run-time dh, dw and the branch around them cost ~60
  // instructions a copy in gemm_mma's dilated k loop (docs/CUDA.md).
  const int qy = fast_div(iy, o.fdh), qx = fast_div(ix, o.fdw);  // meaningless for a negative position: rejected next
  if ((iy | ix) < 0 || iy != qy * (int)o.dh || ix != qx * (int)o.dw) return false;
  iy = qy;
  ix = qx;
  if ((unsigned)iy >= (unsigned)o.h || (unsigned)ix >= (unsigned)o.w) return false;
  off = x_offset(o, b, iy, ix, ci);
  return true;
}

// The memory (row, col) of tile chunk (r, c) for the tile at (mn0, k0): K-major rows run along M (or N) and
// chunks along K; MN-major rows run along K and chunks along M (or N). A GEGLU product's B (half = D, else 0) reads
// its N index through geglu_source; past the product's 2D columns the index stays, so the edge zero fill holds.
template <bool KMAJOR>
__host__ __device__ inline void tile_coords(int r, int c, int mn0, int k0, int half, int& row, int& col) {
  int mn = mn0 + (KMAJOR ? r : c * 8);
  if (half && mn < 2 * half) mn = geglu_source(mn, half);
  row = KMAJOR ? mn : k0 + r;
  col = KMAJOR ? k0 + c * 8 : mn;
}

// How load_tile finds its copies' memory, known at compile time: start(o, k0), the element offset of the tile at k0
// from the operand's batch start (one per tile, for every copy), and find(o, it, row, col, k0, off), copy it's element
// offset from there for tile coordinates (row, col), or false where it reads zero. DenseCopies (a dense operand),
// TileRows (a gathered K-major operand), GatherEach (a gathered K-major operand, each copy on its own) or TileTaps (a
// gathered MN-major one). The GEMM kernels pick per operand at run time, one copy of their k loop per combination
// that occurs: a gather is only ever A, K-major (a forward or input-gradient conv: TileRows, or GatherEach where
// dilated or in a copy loop), or B, MN-major and not dilated (a weight gradient: TileTaps), never both
// (CudaGemm.mmaPlan).
// For the kinds whose copies each find their whole offset (all but DenseCopies): the tile starts at the batch start.
struct FromStart {
  __host__ __device__ long long start(const Operand&, int) const { return 0; }
};

// A gathered K-major operand's copies, each found on its own (gather_element): a dilated gather (a strided conv's
// input gradient), and any gather in a copy loop (gemm_ws's copier: TileRows' per-copy windows, indexed by the
// loop's copy index, went to local memory there, a 72-byte stack frame).
struct GatherEach : FromStart {
  __host__ __device__ bool find(const Operand& o, int, int row, int col, int, unsigned& off) const {
    return gather_element(o, row, col, off);
  }
};

// A thread's copies of a dense operand's MN x BK tiles. They share their column chunk and sit ROWS tile rows apart, so
// copy it's offset is copy 0's plus it * step (GEGLU's B: its source rows, geglu_source, ROWS / 2 apart) and copy 0's
// bounds, found once per tile, serve all: a copy's offset is one multiply-add, its zero test a compare or two, and the
// kind four registers, whether the copies are unrolled (gemm, gemm_mma) or issued from a loop (gemm_ws's copier, 40
// registers, where finding each copy from scratch took ~30 instructions). A k step moves the tile's start (start():
// k0 along a K-major row, k0 rows down an MN-major operand), shared by all copies. (Finding each copy per k step, a
// 64-bit row * ld and both bounds in 64 bits, was ~150 of gemm_mma's dense k loop's 217 instructions: docs/CUDA.md.)
// 32-bit offsets: a dense operand's batch entry spans at most 2^31 elements (CudaGemm.denseFits).
template <bool KMAJOR, int MN, int BK, int THREADS>
struct DenseCopies {
  static constexpr int ROWS = TileCopies<KMAJOR, MN, BK, THREADS>::ROWS;  // tile rows between a thread's copies
  static_assert(!KMAJOR || ROWS % 16 == 0, "GEGLU's source rows of a thread's copies evenly spaced");
  unsigned at, step;  // copy 0's offset at k = 0; copy it's is it * step further
  int k_end;          // copy 0 reads zero from k0 = k_end on (MN-major: copy it from k_end - it * ROWS on)
  int inside;         // K-major: copies it < inside lie inside the M / N edge (GEGLU's B: o.rows = 2 half)

  __host__ __device__ DenseCopies(const Operand& o, int mn0, int half, int tid) {
    const TileCopies<KMAJOR, MN, BK, THREADS> copies(tid);
    int row, col;
    tile_coords<KMAJOR>(copies.r0, copies.c, mn0, 0, half, row, col);
    at = (unsigned)row * (unsigned)o.ld + (unsigned)col;
    step = (unsigned)(KMAJOR && half ? ROWS / 2 : ROWS) * (unsigned)o.ld;
    const int left = (int)o.rows - (mn0 + copies.r0);  // K-major: copy 0's M / N index (before geglu_source)
    inside = KMAJOR && left > 0 ? (left + ROWS - 1) / ROWS : 0;
    k_end = KMAJOR ? (int)o.cols - col : col < o.cols ? (int)o.rows - row : 0;
  }

  __host__ __device__ long long start(const Operand& o, int k0) const { return KMAJOR ? k0 : (long long)k0 * o.ld; }

  __host__ __device__ bool find(const Operand&, int it, int, int, int k0, unsigned& off) const {
    off = at + it * step;  // where this returns false, off may point past the operand: the zero-filling copy reads nothing there
    return KMAJOR ? k0 < k_end && it < inside : k0 < k_end - it * ROWS;
  }
};

// A thread's GatherRows for its copies of a K-major tile (MN x BK) of a gathered operand read as it is (not
// dilated): their rows (pixels) stay the same across the k loop, so the kernels whose copies are unrolled find them
// once per tile. The copies also share their column chunk, so a k step finds one tap for all of them. (A dilated
// gather, a strided conv's input gradient, goes by GatherEach: its zero test in this loop made ptxas spill in gemm_mma's
// 64x128 tile on sm_90a.)
template <int MN, int BK, int THREADS>
struct TileRows : FromStart {
  GatherRow at[TileCopies<true, MN, BK, THREADS>::COPIES];
  int col0;  // the copies' column at k = 0

  __host__ __device__ TileRows(const Operand& o, int mn0, int tid) {
    const TileCopies<true, MN, BK, THREADS> copies(tid);
#pragma unroll
    for (int it = 0; it < copies.COPIES; it++) {
      int row;
      tile_coords<true>(copies.row(it), copies.c, mn0, 0, 0, row, col0);
      at[it] = gather_row(o, row);
    }
  }

  __host__ __device__ bool find(const Operand& o, int it, int, int, int k0, unsigned& off) const {
    return gather_at(o, at[it], tap_at(o, k0 + col0), off);  // the same tap_at for every copy: computed once
  }
};

// A thread's column tap for its copies of an MN-major tile (BK x MN, rows along K) of a gathered operand read as it
// is: the weight gradient's B, whose K index is the pixel and whose N index is the column (ky, kx, ci). A thread's
// copies all sit in one column chunk, so the tap is found once per tile and a copy finds only its pixel's window
// (window_of), then its element by multiply-adds (gather_row's packed window and gather_at's unpacking, the form
// TileRows keeps per row, cost ~5 more instructions per copy here: docs/CUDA.md).
template <int MN, int BK, int THREADS>
struct TileTaps : FromStart {
  int ky, kx, ci;  // the copies' tap (ky = -2^15 past the columns: no window brings it inside)

  __host__ __device__ TileTaps(const Operand& o, int mn0, int tid) {
    const TileCopies<false, MN, BK, THREADS> copies(tid);
    int row, col;
    tile_coords<false>(copies.r0, copies.c, mn0, 0, 0, row, col);
    tap_of(o, col, ky, kx, ci);
    if (col >= (int)o.cols) ky = -32768;
  }

  __host__ __device__ bool find(const Operand& o, int, int row, int, int, unsigned& off) const {
    int b, iy, ix;
    window_of(o, row, b, iy, ix);
    iy += ky;
    ix += kx;
    off = x_offset(o, b, iy, ix, ci);
    return row < (int)o.rows && (unsigned)iy < (unsigned)o.h && (unsigned)ix < (unsigned)o.w;
  }
};

// Runs loop(how_a, how_b), the caller's k loop, with how thread tid's copies of A and B find their memory for this
// product (the combinations above; the tile at (bm, bn), B's GEGLU half width): a copy of the loop per combination,
// each inlined. EACH: the caller issues its copies from a loop (gemm_ws's copier), so a gathered A goes by GatherEach,
// not TileRows. The host checks run it per emulated thread.
#pragma nv_exec_check_disable
template <bool A_KMAJOR, bool B_KMAJOR, int BM, int BN, int BK, int THREADS, bool EACH = false, class Loop>
__host__ __device__ __forceinline__ void with_copy_kinds(const Operand& oa, const Operand& ob, int bm, int bn, int half, int tid,
                                                         Loop&& loop) {
  if (A_KMAJOR && oa.gather) {
    if constexpr (A_KMAJOR) {
      const DenseCopies<B_KMAJOR, BN, BK, THREADS> dense_b(ob, bn, half, tid);
      if (!EACH && oa.dh == 1 && oa.dw == 1) loop(TileRows<BM, BK, THREADS>(oa, bm, tid), dense_b);
      else loop(GatherEach{}, dense_b);
    }
  } else if (!B_KMAJOR && ob.gather) {  // never dilated (CudaGemm.mmaPlan)
    if constexpr (!B_KMAJOR) loop(DenseCopies<A_KMAJOR, BM, BK, THREADS>(oa, bm, 0, tid), TileTaps<BN, BK, THREADS>(ob, bn, tid));
  } else {
    loop(DenseCopies<A_KMAJOR, BM, BK, THREADS>(oa, bm, 0, tid), DenseCopies<B_KMAJOR, BN, BK, THREADS>(ob, bn, half, tid));
  }
}

// Copies the MN x BK operand tile at (mn0, k0) into shared memory; g is the operand's batch start. Whole 16-byte
// chunks per thread, zero-filled past the edges. UNROLL: the copies unrolled (all) or issued from a loop UNROLL at
// a time (a copy-only warp with few registers: unrolled, the addresses of all its copies are live at once). how:
// this thread's copy kind (with_copy_kinds).
template <bool KMAJOR, int MN, int BK, int THREADS, bool ATOMS = false, int UNROLL = MN * BK / 8 / THREADS, class How>
__device__ __forceinline__ void load_tile(uint4* s, const uint16_t* g, const Operand& o, int mn0, int k0, int half, const How& how) {
  const TileCopies<KMAJOR, MN, BK, THREADS, ATOMS> copies(threadIdx.x);
  const uint16_t* const gk = opaque(g + how.start(o, k0));
#pragma unroll UNROLL
  for (int it = 0; it < copies.COPIES; it++) {
    int row, col;
    tile_coords<KMAJOR>(copies.row(it), copies.c, mn0, k0, half, row, col);
    unsigned off = 0;
    const bool valid = how.find(o, it, row, col, k0, off);
    cp_async16(s + copies.slot(it), gk + off, valid);
  }
}

// ---- the epilogue both kernels share: C staged as an fp32 tile in shared memory, then finished row by row ----
// Consecutive threads write consecutive columns of C. The accumulator fragments would scatter 4- to 8-byte pieces;
// indexing 64-128 accumulators from an epilogue loop the compiler does not unroll moves them all to local memory;
// and an epilogue unrolled per accumulator repeats its C-dtype and residual-dtype branches per element (that made
// gemm_mma.cu's entry points ~90 000 instructions each, mostly epilogue).

// Row stride of the staged C tile, in floats: BN + 8 puts the 8 rows of a warp's 8-byte fragment stores in
// different banks.
template <int BN>
__host__ __device__ constexpr int staged_ld() { return BN + 8; }

// The staged column of GEGLU output i of a tile (0 .. BN/2 - 1): values sit in columns 16q .. 16q + 7 (q = i / 8),
// their gates 8 further (geglu_source's interleave).
__host__ __device__ inline int geglu_staged_column(int i) { return i / 8 * 16 + i % 8; }

// Where a C element goes and what is added to it: everything of the epilogue but the accumulator.
struct Out {
  int m, n;
  float alpha, beta;
  void* C;
  int tc;
  long long crs, ccs, sbc;
  const void* bias;
  int tbias;
  Residual res;
  int half;  // GEGLU: D (the product has 2D columns, C has D), else 0
};

__device__ __forceinline__ float column_bias(const Out& o, int col) {
  return o.bias && col < o.n ? ld(o.bias, o.tbias, o.half ? geglu_source(col, o.half) : col) : 0.f;
}

// Finishes ROWS staged fp32 rows, C's rows bm.. and columns bn.. of batch entry b, through the epilogue
// (epilogue.cuh); threads tid = 0 .. NT - 1 share the work.
template <int ROWS, int BN, int NT>
__device__ __forceinline__ void store_tile(const float* staged, const Out& o, long long b, int bm, int bn, int tid) {
  constexpr int LD = staged_ld<BN>();
  if (o.half) {  // GEGLU: output i of a row pairs staged column p (value) with p + 8 (gate)
    for (int idx = tid; idx < ROWS * BN / 2; idx += NT) {
      int r = idx / (BN / 2), p = geglu_staged_column(idx % (BN / 2)), row = bm + r, col = bn + p;
      if (row < o.m && col < o.n)
        st(o.C, o.tc, b * o.sbc + row * o.crs + geglu_source(col, o.half) * o.ccs,
           geglu_epilogue(staged[r * LD + p], staged[r * LD + p + 8], o.alpha, column_bias(o, col), column_bias(o, col + 8)));
    }
    return;
  }
  with_residual_type(o.res, [&](auto rt) {
    for (int idx = tid; idx < ROWS * BN; idx += NT) {
      int r = idx / BN, c = idx % BN, row = bm + r, col = bn + c;
      if (row < o.m && col < o.n) {
        long long ci = b * o.sbc + row * o.crs + col * o.ccs;
        st(o.C, o.tc, ci, epilogue<decltype(rt)::value>(staged[r * LD + c], o.alpha, column_bias(o, col), o.res, b, row, col,
                                                        o.beta, o.C, o.tc, ci));
      }
    }
  });
}

}  // namespace mma
