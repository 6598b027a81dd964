#!/usr/bin/env bash
# One device visit: bench kernels and bench gemm on the full-size puppet-master preset (random weights, bf16,
# 14 frames, 32x32 latents), each next to PyTorch on the same GPU. Prepare on the build machine (no GPU needed):
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && bash kernels/pack-device.sh
# then call the device tool with carry [".device"], timeout_s 600, command: bash kernels/bench/gpu-bench.sh
# Parts (default: kernels gemm gemm-cublas, in this order): kernels, gemm (our tensor-core GEMM and implicit-GEMM conv, -Dpuppet.cuda.gemm=mma),
# gemm-sm80 (not in the default list; our GEMM as an sm_80/sm_89 GPU runs it: gemm_mma.cu's tiles only, -Dpuppet.cuda.gemm.hopper=false, for
# issue 5's ">= 60% of cuBLAS" target; reuses PyTorch's numbers from gemm),
# gemm-cublas (the engine's cuBLAS path when libcublas.so.12 loads, forced wherever cuBLAS can take a product:
# -Dpuppet.cuda.gemm.tile=cublas, convolutions by columns + cuBLAS; reuses PyTorch's numbers from gemm),
# sample (not in the default list: `bash kernels/bench/gpu-bench.sh sample`): the engine's bench sample on the random
# puppet-master preset (bf16) and then the reference pipeline (Puppet-Master's networks.py on diffusers, fp16, SDPA,
# kernels/bench/torch_sample.py), same settings, and the per-stage ratio. It also needs the reference sources:
#   bash kernels/bench/pack-reference.sh        (on the build machine; writes .device-ref/, about 6 MB)
# and carry [".device", ".device-ref"] (pack with `kernels/pack-device.sh --no-tests` so both fit the 64 MiB). At most 8 minutes (engine capped at 270 s, PyTorch at 210 s).
# Env: PEAK_TFLOPS (default 989: H100/H200 SXM dense bf16), WARMUP (3), ITERS (10);
#      for sample: SAMPLE_STEPS (50), SAMPLE_REPEAT (engine timed samples, 2), TORCH_REPEAT (3), both after 1 warm-up.
# Logs and JSON go to $OUT; the tables (last lines of each part) are printed at the end.
# DEADLINE (epoch s, see kernels/device-budget.sh) caps each part's timeout; status lines are appended to $OUT/summary.txt.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
source "$(dirname "$0")/../device-budget.sh"
parts=${*:-kernels gemm gemm-cublas}
for p in $parts; do case $p in kernels|gemm|gemm-sm80|gemm-cublas|sample) ;; *) echo "unknown part $p (kernels, gemm, gemm-sm80, gemm-cublas, sample)"; exit 2 ;; esac; done
common=(--preset puppet-master --device cuda --dtype bf16 --peak-tflops "${PEAK_TFLOPS:-989}" --warmup "${WARMUP:-3}" --iters "${ITERS:-10}")
# capped too: they run before the first step, and a visit's budget leaves only 40 s past its DEADLINE (at least 1 s:
# a limit of 0 would mean none)
short() { local l; l=$(capped "$1"); [ "$l" = 0 ] && l=1; echo "$l"; }
limited "$(short 20)" nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
limited "$(short 60)" python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" 2>&1 | tee "$out/torch.txt"
# JCublas needs libcublas.so.12; a pip-installed PyTorch may carry one (nvidia/cublas/lib): let the engine find it.
dirs="$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /usr/local /usr/lib /opt"
cublas=$(limited "$(short 30)" find $dirs -name 'libcublas.so.12*' 2>/dev/null | head -n 1)
[ -n "$cublas" ] && export LD_LIBRARY_PATH="$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && echo "libcublas.so.12: $cublas"

status() { echo "$1" | tee -a "$out/summary.txt"; }
run() {  # label, timeout (s), extra JVM flags, bench arguments...
  local label=$1 limit=$2 jvm=$3; shift 3
  limit=$(capped "$limit")
  if [ "$limit" = 0 ]; then status "$label: skipped, the visit has no time left"; return; fi
  local t0=$SECONDS
  JAVA_OPTS="$jvm" limited "$limit" bash .device/run dev.puppetengine.cli.Main bench "$@" > "$out/$label.txt" 2> "$out/$label.log"
  local rc=$? ran=$((SECONDS - t0)) stopped=0
  stopped_at_limit $rc $ran "$limit" && stopped=1
  status "$label: exit $rc in $ran s$([ $stopped = 1 ] && echo " (timed out at ${limit} s)")"
  # stopped part-way: $label.json holds the cases we timed (rewritten after each), $label.json.torch.json PyTorch's
  # finished ones (bench gemm parts without their own: gemm's); the table is made from them without timing again
  # (here if time is left, else by the same command afterwards)
  if [ $stopped = 1 ] && { [ "$1" = gemm ] || [ "$1" = kernels ]; } && [ -s "$out/$label.json" ]; then
    local t="$out/$label.json.torch.json" torch=(--torch none)
    [ -s "$t" ] || [ "$1" != gemm ] || t="$out/gemm.json.torch.json"
    [ -s "$t" ] && torch=(--torch-results "$t")
    limit=$(capped 60)
    [ "$limit" != 0 ] && limited "$limit" bash .device/run dev.puppetengine.cli.Main bench "$1" --ours-results "$out/$label.json" \
      "${torch[@]}" --json "$out/$label.json" > "$out/$label.txt.new" 2>> "$out/$label.log" \
      && mv "$out/$label.txt.new" "$out/$label.txt" && status "$label: table made from the stopped run's JSON (bench $1 --ours-results)"
  fi
}
for p in $parts; do
  case $p in
    kernels) run kernels 150 "" kernels "${common[@]}" --json "$out/kernels.json" ;;
    # the tuner's tile choice per shape (made in the warm-up calls) lands in $out/tune/gemm-tiles-*.json
    # PyTorch's second pass (convolutions in channels-last) gets at most 45 s of the step: the correctness steps come after
    gemm) TORCH_OPS_CHANNELS_LAST_SECONDS=${TORCH_OPS_CHANNELS_LAST_SECONDS:-45} run gemm 270 "-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.tuneCache=$out/tune" gemm "${common[@]}" --json "$out/gemm.json" ;;
    gemm-sm80|gemm-cublas)   # PyTorch's side is gemm's, where that part ran
      if [ "$p" = gemm-cublas ] && [ -z "$cublas" ] && ! ldconfig -p 2>/dev/null | grep -q ' libcublas.so.12 '; then
        status "gemm-cublas: skipped, no libcublas.so.12 here (it would time our tiles again)"; continue
      fi
      if [ -f "$out/gemm.json.torch.json" ]; then torch=(--torch-results "$out/gemm.json.torch.json"); else torch=(); fi
      jvm="-Dpuppet.cuda.gemm.tile=cublas"
      [ "$p" = gemm-sm80 ] && jvm="-Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.hopper=false -Dpuppet.cuda.tuneCache=$out/tune-sm80"
      run "$p" "$([ "$p" = gemm-sm80 ] && echo 150 || echo 120)" "$jvm" gemm "${common[@]}" "${torch[@]}" --json "$out/$p.json" ;;
    sample)
      steps=${SAMPLE_STEPS:-50}
      run sample 270 "" sample --preset puppet-master --device cuda --dtype bf16 --steps "$steps" --warmup 1 \
        --repeat "${SAMPLE_REPEAT:-2}" --peak-tflops "${PEAK_TFLOPS:-989}" --json "$out/sample.json"
      limit=$(capped 210)
      if [ "$limit" = 0 ]; then
        status "sample-torch: skipped, the visit has no time left"
      elif [ -d .device-ref/diffusers/src ]; then
        t0=$SECONDS
        limited "$limit" python3 kernels/bench/torch_sample.py --puppet-master .device-ref/puppet-master \
          --diffusers .device-ref/diffusers/src --extra-path .device-ref/site --device cuda --dtype fp16 --steps "$steps" \
          --warmup 1 --repeat "${TORCH_REPEAT:-3}" --peak-tflops "${PEAK_TFLOPS:-989}" --json "$out/sample-torch.json" \
          > "$out/sample-torch.txt" 2> "$out/sample-torch.log"
        status "sample-torch: exit $? in $((SECONDS - t0)) s"
        if [ -f "$out/sample.json" ] && [ -f "$out/sample-torch.json" ]; then
          python3 kernels/bench/compare_sample.py "$out/sample.json" "$out/sample-torch.json" --json "$out/sample-compare.json" \
            > "$out/sample-compare.txt" 2>&1
        fi
      else
        echo "sample-torch: .device-ref/ missing (run kernels/bench/pack-reference.sh and carry .device-ref)" | tee "$out/sample-torch.log"
      fi ;;
  esac
done
for p in $parts; do
  echo "=== $p (full table: $out/$p.txt, log: $out/$p.log)"
  grep -E "FAILED|failed|skipped|Exception" "$out/$p.log" 2>/dev/null | head -n 5
  if [ "$p" = sample ]; then
    cat "$out/sample.txt" 2>/dev/null
    echo "--- reference (PyTorch; log: $out/sample-torch.log)"; grep -E "Error|error:" "$out/sample-torch.log" 2>/dev/null | tail -n 3
    cat "$out/sample-torch.txt" 2>/dev/null
    echo "--- side by side (speedup = PyTorch ms / engine ms)"; cat "$out/sample-compare.txt" 2>/dev/null
  else
    grep -E "^(PyTorch|copy|square|[a-z_0-9-]+: ours)" "$out/$p.txt" 2>/dev/null
  fi
done
