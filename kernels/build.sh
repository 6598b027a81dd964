#!/usr/bin/env bash
# Compiles every kernels/*.cu into OUTDIR/<name>.fatbin (sm_80 and sm_90a cubins + compute_80 PTX; gemm_wgmma.cu, whose
# wgmma exists on sm_90a only, just the sm_90a cubin: CudaGemm loads it on sm_90 devices only). An sm_80 cubin
# runs on every sm_8x GPU (A100, A10/RTX 30xx at sm_86, L4/L40/RTX 40xx at sm_89), so separate sm_86 / sm_89 cubins only
# doubled the build (ptxas dominates it); newer GPUs JIT the PTX.
# Also builds src/main/native/tensor_map.c into OUTDIR/libpuppet_tensor_map.so (the JNI shim for TMA tensor maps; needs
# cuda.h from nvcc's toolkit and jni.h from $JAVA_HOME; without jni.h it is skipped and the engine copies by cp.async).
# Called by Maven in generate-resources. Environment:
#   CUDA_REQUIRE=true  a missing nvcc fails the build (default: warn and skip)
#   CUDA_SKIP=true     skip kernel compilation entirely (fast CPU-only iterations)
#   NVCC               the compiler (default nvcc)
#   CUDA_ARCHS=90a     only the sm_90a cubins (H100/H200), for a bundle that runs on one known GPU
#                      (kernels/pack-device.sh); the default set runs on every sm_80+ GPU
# Fatbins are compressed (-Xfatbin=-compress-all: ~10x smaller; the driver inflates them at load, as every CUDA 13
# driver can). Rebuilds a fatbin only when its .cu or any kernels/*.cuh header is newer. Runs up to $(nproc) nvcc at once.
set -euo pipefail
unset CDPATH   # exported, it makes cd print where it went, which $(cd ... && pwd) would take in
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
nvcc=${NVCC:-nvcc}

if [ "${CUDA_SKIP:-false}" = true ]; then
  echo "[kernels] skipped (-Dcuda.skip=true)"; exit 0
fi
if ! command -v "$nvcc" >/dev/null 2>&1; then
  if [ "${CUDA_REQUIRE:-false}" = true ]; then
    echo "[kernels] ERROR: nvcc not found on PATH and -Dcuda.require=true" >&2; exit 1
  fi
  echo "[kernels] WARNING: nvcc not found on PATH: CUDA kernels NOT compiled; the engine will run on the CPU backend only." >&2
  exit 0
fi

mkdir -p "$out"
shim_src="$here/../src/main/native/tensor_map.c" shim="$out/libpuppet_tensor_map.so"
jdk=${JAVA_HOME:-}
if [ ! -f "$jdk/include/jni.h" ] && command -v javac >/dev/null 2>&1; then jdk=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")"); fi
if [ ! -f "$jdk/include/jni.h" ]; then
  echo "[kernels] WARNING: no jni.h (set JAVA_HOME to a JDK): $(basename "$shim") not built; TMA copies disabled." >&2
elif [ ! -f "$shim" ] || [ "$shim_src" -nt "$shim" ]; then
  "$nvcc" -shared -Xcompiler -fPIC -O2 -I"$jdk/include" -I"$jdk/include/linux" -o "$shim.tmp" "$shim_src" -ldl && mv "$shim.tmp" "$shim" \
    && echo "[kernels]   $(basename "$shim")"
fi
archs="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_80,code=compute_80"
hopper_only="-gencode arch=compute_90a,code=sm_90a"
case "${CUDA_ARCHS:-}" in
  "") ;;
  90a) archs=$hopper_only ;;
  *) echo "[kernels] ERROR: CUDA_ARCHS=$CUDA_ARCHS: only 90a (or unset: the default set)" >&2; exit 2 ;;
esac
newest_header=$(ls -t "$here"/*.cuh 2>/dev/null | head -n 1 || true)

todo=()
for cu in "$here"/*.cu; do
  [ -e "$cu" ] || continue
  name=$(basename "$cu" .cu)
  fb="$out/$name.fatbin"
  if [ -f "$fb" ] && [ "$fb" -nt "$cu" ] && { [ -z "$newest_header" ] || [ "$fb" -nt "$newest_header" ]; }; then continue; fi
  todo+=("$cu")
done
[ ${#todo[@]} -gt 0 ] || { echo "[kernels] up to date"; exit 0; }

echo "[kernels] $("$nvcc" --version | tail -n 1): compiling ${#todo[@]} file(s)"
export out archs hopper_only nvcc here
# each path goes to bash as $1, never into the script's text, so a checkout under a path with spaces or quotes builds
# getconf where there is no nproc (macOS, where mvn -B test runs this script with a stand-in nvcc)
printf '%s\0' "${todo[@]}" | xargs -0 -n 1 -P "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)" bash -c '
  cu=$1; name=$(basename "$cu" .cu); a=$archs
  [ "$name" = gemm_wgmma ] && a=$hopper_only
  "$nvcc" -fatbin -O3 -std=c++17 -Xfatbin=-compress-all -I"$here" $a -o "$out/$name.fatbin.tmp" "$cu" && mv "$out/$name.fatbin.tmp" "$out/$name.fatbin" \
    && echo "[kernels]   $name.fatbin"' build-one
