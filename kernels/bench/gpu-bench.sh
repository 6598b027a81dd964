#!/usr/bin/env bash
# One device visit: bench kernels and bench gemm on the full-size puppet-master preset (random weights, bf16,
# 14 frames, 32x32 latents), each next to PyTorch on the same GPU. Prepare on the build machine (no GPU needed):
#   mvn -B -DskipTests package && /work/shared/tools/device-pack
# then call the device tool with carry [".device"], timeout_s 600, command: bash kernels/bench/gpu-bench.sh
# Parts (default: all, in this order): kernels, gemm (our tensor-core GEMM and implicit-GEMM conv, -Dpuppet.cuda.gemm=mma),
# gemm-cublas (the engine's cuBLAS path when libcublas.so.12 loads; reuses PyTorch's numbers from gemm).
# Env: PEAK_TFLOPS (default 989: H100/H200 SXM dense bf16), WARMUP (3), ITERS (10).
# Logs and JSON go to $OUT; the tables (last lines of each part) are printed at the end.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
parts=${*:-kernels gemm gemm-cublas}
common=(--preset puppet-master --device cuda --dtype bf16 --peak-tflops "${PEAK_TFLOPS:-989}" --warmup "${WARMUP:-3}" --iters "${ITERS:-10}")
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" 2>&1 | tee "$out/torch.txt"
# JCublas needs libcublas.so.12; a pip-installed PyTorch may carry one (nvidia/cublas/lib): let the engine find it.
dirs="$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /usr/local /usr/lib /opt"
cublas=$(timeout 30 find $dirs -name 'libcublas.so.12*' 2>/dev/null | head -n 1)
[ -n "$cublas" ] && export LD_LIBRARY_PATH="$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && echo "libcublas.so.12: $cublas"

run() {  # label, timeout (s), extra JVM flags, bench arguments...
  local label=$1 limit=$2 jvm=$3; shift 3
  local t0=$SECONDS
  JAVA_OPTS="$jvm" timeout "$limit" bash .device/run dev.puppetengine.cli.Main bench "$@" > "$out/$label.txt" 2> "$out/$label.log"
  echo "$label: exit $? in $((SECONDS - t0)) s"
}
for p in $parts; do
  case $p in
    kernels) run kernels 150 "" kernels "${common[@]}" --json "$out/kernels.json" ;;
    gemm) run gemm 270 "-Dpuppet.cuda.gemm=mma" gemm "${common[@]}" --json "$out/gemm.json" ;;
    gemm-cublas)
      if [ -f "$out/gemm.json.torch.json" ]; then torch=(--torch-results "$out/gemm.json.torch.json"); else torch=(); fi
      run gemm-cublas 120 "" gemm "${common[@]}" "${torch[@]}" --json "$out/gemm-cublas.json" ;;
    *) echo "unknown part $p (kernels, gemm, gemm-cublas)"; exit 2 ;;
  esac
done
for p in $parts; do
  echo "=== $p (full table: $out/$p.txt, log: $out/$p.log)"
  grep -E "FAILED|failed|skipped|Exception" "$out/$p.log" | head -n 5
  grep -E "^(PyTorch|copy|square|[a-z_0-9-]+: ours)" "$out/$p.txt"
done
