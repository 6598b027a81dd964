#!/usr/bin/env bash
# Builds the SIMT emulator: OUTDIR/libcuda.so.1 (default target/simt), a stand-in NVIDIA driver library holding every
# kernels/*.cu compiled by g++ as host code (gemm_wgmma.cu's kernels too: they run when SIMT_ARCH=90). Needs g++ with C++20
# and the CUDA toolkit's headers (cuda_bf16.h, cuda_fp16.h: found next to nvcc, or CUDA_HOME). About a minute.
# Each kernel file is compiled twice: once to list its extern "C" kernels (nm), once with one EMU_KERNEL(name) line
# per kernel appended, which registers it under that name for cuModuleGetFunction. `extern __shared__` arrays
# become pointers to the block's dynamic shared memory (the one rewrite of the sources; checked below).
set -euo pipefail
unset CDPATH   # exported, it makes cd print where it went, which $(cd ... && pwd) would take in
here=$(cd "$(dirname "$0")" && pwd)
kernels=$(cd "${SIMT_KERNELS:-$here/../..}" && pwd)   # SIMT_KERNELS: another copy of kernels/ (mutation-check.sh)
out=$(mkdir -p "${1:-$here/../../../target/simt}" && cd "${1:-$here/../../../target/simt}" && pwd)
cuda_home=${CUDA_HOME:-}
if [ -z "$cuda_home" ] && command -v nvcc > /dev/null; then cuda_home=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")"); fi
[ -n "$cuda_home" ] || cuda_home=/usr/local/cuda
inc=$cuda_home/include
[ -f "$inc/cuda_bf16.h" ] || inc=/usr/local/cuda/include
[ -f "$inc/cuda_bf16.h" ] || { echo "[simt] no cuda_bf16.h under $cuda_home/include: set CUDA_HOME to the CUDA toolkit" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
flags=(-std=c++20 -O2 -Wno-psabi -fPIC -fno-strict-aliasing -fvisibility=hidden -DPUPPET_SIMT_EMULATOR -I"$inc" -I"$kernels" -I"$here")
objs=()
compile() {   # $1 = kernels/NAME.cu
  local cu=$1 name; name=$(basename "$1" .cu)
  sed -E 's/extern __shared__ ([A-Za-z0-9_]+) ([A-Za-z0-9_]+)\[\];/\1* \2 = (\1*)emu::dynamic_shared();/' "$cu" > "$work/$name.cc"
  if grep -q "extern __shared__" "$work/$name.cc"; then echo "[simt] $name.cu: an extern __shared__ declaration the rewrite does not know" >&2; return 1; fi
  g++ "${flags[@]}" -O0 -include simt.h -c "$work/$name.cc" -o "$work/$name.list.o"
  { echo "#include \"$work/$name.cc\""
    nm --defined-only "$work/$name.list.o" | awk '$2 == "T" && $3 !~ /^_Z/ { print "EMU_KERNEL(" $3 ")" }'; } > "$work/$name.reg.cc"
  grep -q EMU_KERNEL "$work/$name.reg.cc" || { echo "[simt] $name.cu: no extern \"C\" kernel found" >&2; return 1; }
  g++ "${flags[@]}" -include simt.h -c "$work/$name.reg.cc" -o "$work/$name.o"
}
pids=()
for cu in "$kernels"/*.cu; do
  compile "$cu" & pids+=($!)
  objs+=("$work/$(basename "$cu" .cu).o")
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 0.2; done
done
for p in "${pids[@]}"; do wait "$p"; done
g++ "${flags[@]}" -c "$here/simt.cpp" -o "$work/simt.o"
g++ "${flags[@]}" -c "$here/driver.cpp" -o "$work/driver.o"
g++ "${flags[@]}" -c "$here/hopper.cpp" -o "$work/hopper.o"
printf "{ global: cu*; local: *; };\n" > "$work/exports.map"
g++ -shared -Wl,-soname,libcuda.so.1 -Wl,--version-script="$work/exports.map" -o "$out/libcuda.so.1.tmp" "$work/simt.o" "$work/driver.o" "$work/hopper.o" "${objs[@]}" -lpthread
mv "$out/libcuda.so.1.tmp" "$out/libcuda.so.1"
echo "[simt] $out/libcuda.so.1: $(grep -h -c EMU_KERNEL "$work"/*.reg.cc | paste -sd+ | bc) kernels from $(ls "$work"/*.reg.cc | wc -l) files"
