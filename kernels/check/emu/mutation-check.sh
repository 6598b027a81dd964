#!/usr/bin/env bash
# Shows that the emulated GPU tests can fail: each mutant is a copy of kernels/ with one bug a GPU would expose, built
# into its own emulator library and run against the tests that cover it; every mutant must fail them. Sources are
# never touched (the copies live in a temporary folder). About twenty minutes. Prints one line per mutant.
#   bash kernels/check/emu/mutation-check.sh [kernel file, e.g. gemm_wgmma.cu: only its mutants]
set -uo pipefail
unset CDPATH   # exported, it makes cd print where it went, which $(cd ... && pwd) would take in
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
source kernels/check/emu/tests-on.sh
survivors=0
hopper="-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false -Dpuppet.cuda.gemm.tile="
# name | file | python expression (the source -> the mutant; must change it) | tests | JVM flags | emulated arch (default 80)
# (fields split at '|': an expression may not contain one)
mutants=(
  "missing barrier: gemm_tiled's second __syncthreads|gemm.cu|s.replace('      acc += part;\n      __syncthreads();', '      acc += part;', 1)|OpHarnessTest#matrixProducts|-Dpuppet.cuda.gemm=tiled"
  "cp.async: gemm_mma waits for one group too few|gemm_mma.cu|s.replace('cp_async_wait<STAGES - 2>()', 'cp_async_wait<STAGES - 1>()', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "gemm_mma: a k step refills the stage it is about to read|gemm_mma.cu|s.replace('load((S + STAGES - 1) % STAGES, kt + STAGES - 1);', 'load(S, kt + STAGES - 1);', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "ldmatrix: A fragment rows from lane % 8, not lane % 16|mma.cuh|s.replace('slot<CPR>(m0 + lane % 16,', 'slot<CPR>(m0 + lane % 8,', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "TileRows: every copy's window corner from the thread's first copy's row|gemm_tile.cuh|s.replace('tile_coords<true>(copies.row(it), copies.c, mn0, 0, 0, row, col0);', 'tile_coords<true>(copies.row(0), copies.c, mn0, 0, 0, row, col0);', 1)|OpHarnessTest#tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "DenseCopies: the K index never checked (a k step past K reads the next row)|gemm_tile.cuh|s.replace('k_end = KMAJOR ? (int)o.cols - col : col < o.cols ? (int)o.rows - row : 0;', 'k_end = KMAJOR ? 1 << 30 : col < o.cols ? 1 << 30 : 0;', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "TileTaps: every thread the column tap of thread 0|gemm_tile.cuh|s.replace('const TileCopies<false, MN, BK, THREADS> copies(tid);', 'const TileCopies<false, MN, BK, THREADS> copies(0);', 1)|OpHarnessTest#tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "TileTaps: a pixel past the K edge read (its row bound dropped)|gemm_tile.cuh|s.replace('return row < (int)o.rows && (unsigned)iy', 'return (unsigned)iy', 1)|OpHarnessTest#tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "store_tile: a bf16 C's last column stored one column left (the 16-bit store at the ragged edge: the tile validation's bf16 C trials)|gemm_tile.cuh|s.replace('long long ci = b * o.sbc + row * o.crs + col * o.ccs;', 'long long ci = b * o.sbc + row * o.crs + (col - (o.tc == DT_BF16 && col == o.n - 1)) * o.ccs;', 1)|CudaGemmValidationTest|"
  "store_tile: the last row's column bound one too far (an element stored just past C: the tile validation's guard bytes)|gemm_tile.cuh|s.replace('if (row < o.m && col < o.n) {', 'if (row < o.m && col < o.n + (row == o.m - 1)) {', 1)|CudaGemmValidationTest|"
  "gather_element: a dilated gather reads x at the dilated position (the quotient by fast_div not taken)|gemm_tile.cuh|s.replace('  iy = qy;\n  ix = qx;\n', '', 1)|OpHarnessTest#tensorCoreProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x128 -Dpuppet.cuda.gemm.tile.strict=true -Dpuppet.cuda.gemm.probe=false"
  "group norm: GroupWalk leaves a group's last channel without moving on to the next pixel's first|norm.cu|s.replace('      off += wrap;\n', '', 1)|OpHarnessTest#norms|"
  "Layout: an inner dim's index by the next outer dim's divisor (offsets()' fast_div path)|common.cuh|s.replace('fast_div((int)j, L.div[d])', 'fast_div((int)j, L.div[d - 1])', 1)|OpHarnessTest#elementwise+copyAndCast|"
  "copy16: reads the source at the destination's chunk offset|copy.cu|s.replace('out[oo] = in[oi];', 'out[oo] = in[oo];', 1)|OpHarnessTest#copyAndCast|"
  "FilmRows: gamma and beta read as if contiguous (the channel halves' row stride ignored)|film.cu|s.replace('    if (gs == c) return i;', '    return i;', 1)|OpHarnessTest#norms|"
  "early exit before a warp shuffle: sum_to_block's lanes 16-31 of each warp|reduce.cu|s.replace('    acc = block_sum(acc, scratch);', '    if (threadIdx.x % 32 >= 16) return;\n    acc = block_sum(acc, scratch);', 1)|OpHarnessTest#elementwise|"
  "attention_mma: row max over 2 lanes of the quad, not 4|attention_mma.cu|s.replace('mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));', '', 1)|OpHarnessTest#tensorCoreAttention|"
  "wgmma: descriptor stride byte offset 512, not 1024|gemm_wgmma.cu|s.replace('(uint64_t)(1024 >> 4) << 32', '(uint64_t)(512 >> 4) << 32', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-128x128|90"
  "gemm_ws: a stage handed back before the wgmma reading it retired|gemm_wgmma.cu|s.replace('      wgmma_wait<1>();  // the previous batch retired: its stage is free', '', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts+convolution|${hopper}wgmma-ws-128x128|90"
  "gemm_ws: the copier's K-major copies read one copy past the M/N edge (DenseCopies, 128 threads)|gemm_tile.cuh|s.replace('inside = KMAJOR && left > 0 ? (left + ROWS - 1) / ROWS : 0;', 'inside = KMAJOR && left > 0 ? (left + ROWS - 1) / ROWS + (THREADS == 128) : 0;', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-ws-128x256|90"
  "TileCopies: copies 4 rows apart given one slot step (the swizzle's 8-row period ignored: gemm_ws's copier, MN-major 128x256)|mma.cuh|s.replace('P = ROWS % 8 == 0 ? 1 : 2,', 'P = 1,', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-ws-128x256|90"
  "gemm_ws: the TMA copier arrives without announcing its bytes|gemm_wgmma.cu|s.replace('if (tma_only) mbar_arrive_expect_bytes(full + 8 * s, tma_bytes);', 'if (tma_only) mbar_arrive(full + 8 * s);', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts+convolution|${hopper}wgmma-tma-128x128|90"
  "gemm_ws: im2col boxes one pixel to the right (TMA-fed conv tiles, caught by the strict tile validation)|gemm_wgmma.cu|s.replace('  window_of(o, pixel, n, h, w);', '  window_of(o, pixel, n, h, w);\n  w += 1;', 1)|OpHarnessTest#matrixProducts|-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tune=false -Dpuppet.cuda.gemm.strictValidation=true -Dpuppet.cuda.tuneCache=$work/tune|90"
  "gemm_ws: warpgroup 1 stages C without waiting for warpgroup 0 (named barrier)|gemm_wgmma.cu|s.replace('if (g == 1) bar_sync<1, 256>();', 'if (g == 1) {}', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts+convolution|${hopper}wgmma-ws-128x256|90"
  "gemm: cp.async tiles not fenced into the async proxy before wgmma reads them|gemm_wgmma.cu|s.replace('      fence_proxy_async();          // ... is visible to the tensor cores ...', '', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-128x128|90"
  "gemm_ws: the copier signals a full stage without fence.proxy.async|gemm_wgmma.cu|s.replace('            cp_async_wait<1>();\n            fence_proxy_async();', '            cp_async_wait<1>();', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts+convolution|${hopper}wgmma-ws-128x128|90"
  "gemm: no wgmma.fence before a batch (the zeroed accumulators unordered)|gemm_wgmma.cu|s.replace('      wgmma_fence();\n', '', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-128x128|90"
  "gemm_ws: TMA signals mbarriers whose init was never fenced|gemm_wgmma.cu|s.replace('    mbar_init_fence();\n', '', 1)|OpHarnessTest#matrixProducts+tensorCoreProducts|${hopper}wgmma-tma-128x128|90"
)
for m in "${mutants[@]}"; do
  IFS='|' read -r name file expr tests flags arch <<< "$m"
  [ -n "${1:-}" ] && [ "$file" != "$1" ] && continue
  rm -rf "$work/kernels" "$work/lib"; cp -r kernels "$work/kernels"
  python3 - "$work/kernels/$file" "$expr" <<'PY' || { echo "MUTATION NOT APPLIED: $name"; survivors=$((survivors + 1)); continue; }
import sys
path, expr = sys.argv[1], sys.argv[2]
s = open(path).read()
t = eval(expr, {"s": s})
if t == s: sys.exit(1)
open(path, "w").write(t)
PY
  SIMT_KERNELS="$work/kernels" bash kernels/check/emu/build.sh "$work/lib" > "$work/build.log" 2>&1 || { echo "BUILD FAILED: $name"; tail -5 "$work/build.log"; survivors=$((survivors + 1)); continue; }
  SIMT_ARCH=${arch:-80} SIMT_TEST_TIMEOUT=600 tests_on "$work/lib" "$work/test.log" "$tests" $flags
  rc=$?
  counts=$(test_counts)
  why=$( { grep -h "^\[simt\] kernel" "$work/test.log" target/surefire-reports/*-output.txt 2>/dev/null; grep -h -E "^(org.opentest4j|dev.puppetengine)[A-Za-z.]*(Error|Exception)" target/surefire-reports/*.txt 2>/dev/null; \
    grep -h -o "C  \[libcuda.so.1[^']*" target/surefire-reports/*.dumpstream 2>/dev/null | sed 's/^/JVM crashed (a fault, as a GPU would): /'; } | head -1 | cut -c1-200)
  if [ $rc = 0 ]; then echo "SURVIVED ($counts): $name"; survivors=$((survivors + 1))
  else echo "killed ($counts): $name"; echo "    first failure: $why"; fi
done
echo "$survivors of the mutants run survived"
exit $((survivors > 0))
