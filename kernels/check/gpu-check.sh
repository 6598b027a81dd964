#!/usr/bin/env bash
# The GPU correctness checks, as named steps (default: all, in this order; about 15 minutes if every step ran to its
# own timeout, so on this workplace's device run it through kernels/device-visit.sh, which orders and caps the steps):
#   probe            what the native bindings can load here (libcuda, libcublas.so.12 for JCublas, libcudnn.so.8), and
#                    per gemm_wgmma entry its SASS's HGMMA, local-memory and BSYNC/WARPSYNC counts (sass.txt) where cuobjdump is
#   harness-cublas   the CUDA op harness on cuBLAS where libcublas.so.12 loads (forced wherever it can take a product:
#                    -Dpuppet.cuda.gemm.tile=cublas; the rest on our kernels) + BackendsTest + OpChecksTest; where the
#                    probe found no libcublas.so.12 that would be harness-mma again, so only BackendsTest + OpChecksTest
#   harness-mma      the op harness on our tensor-core GEMM and implicit-GEMM convolution (-Dpuppet.cuda.gemm=mma;
#                    every tile is validated against the CPU reference first, wgmma ones included on sm_90; tuning
#                    off, so a tile that fails on a harness shape it was not validated on cannot end the step early:
#                    bench gemm tunes, products-* force each tile)
#   products-mma     the product and convolution cases once per forced mma.sync tile (128x128, 128x64, 64x128: on an
#                    H100/H200 the untuned harness uses wgmma tiles, so one harness run need not use them at all)
#   products-hopper  the same per forced wgmma tile, sm_90 only (plain, warp-specialised, TMA-fed), and TensorMapsTest
#   harness-tiled    the op harness on the tiled (no tensor-core) fallback
#   unet-parity      the whole-UNet parity test (tiny UNet forward + backward, F32 and BF16, checkpointing off/on)
#   sample-parity    the sampling parity test (shipped toy model, 3 steps: frames vs the CPU, determinism)
#   memcheck         compute-sanitizer memcheck over the op harness (kernels ~10x slower), when it is on PATH
# Every launch synchronized (-Dpuppet.cuda.sync=true) so a fault names its kernel. Strict, so a pass means what it says:
# no usable CUDA fails every test instead of skipping it (-Dpuppet.harness.requireDevice=true), harness-mma fails when
# any tile fails validation (-Dpuppet.cuda.gemm.strictValidation=true) rather than passing on the others, and a forced
# tile this GPU cannot run (TMA off, not sm_90) fails its products-* step (-Dpuppet.cuda.gemm.tile.strict=true). Logs: $OUT/<step>.log; the
# summary lines are appended to $OUT/summary.txt. DEADLINE (epoch s, see kernels/device-budget.sh) caps each step.
# Prepare here (the sampling test reads models/toy from the working tree, which travels with the command):
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && bash kernels/pack-device.sh
# then call the device tool with carry [".device"] and command: bash kernels/check/gpu-check.sh [steps...]
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
source "$(dirname "$0")/../device-budget.sh"
all="probe harness-cublas harness-mma products-mma products-hopper harness-tiled unet-parity sample-parity memcheck"
steps=${*:-$all}
for step in $steps; do [[ " $all " == *" $step "* ]] || { echo "unknown step $step (steps: $all)"; exit 2; }; done
probe() {
  limited 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
  # What the engine's native bindings can load here (docs/CUDA.md "What loads where" records it):
  # libcuda (JCuda driver API), libcublas.so.12 (JCublas 12.6), libcudnn.so.8 (JCudnn 11.7; unused by the engine).
  # ldconfig first; for what it lacks, one find over the usual places (pip wheels ship CUDA libraries too).
  local libs="libcuda.so.1 libcublas.so.12 libcublasLt.so.12 libcudnn.so.8 libcublas.so.13 libcudnn.so.9" found
  found=$(limited 30 find /usr /opt $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) \
    \( -name 'libcuda.so*' -o -name 'libcublas*.so*' -o -name 'libcudnn.so*' \) 2>/dev/null)
  { for lib in $libs; do
    hit=$(ldconfig -p 2>/dev/null | grep -m1 " $lib " | sed 's/.*=> //')
    [ -z "$hit" ] && hit=$(grep -m1 "/$lib" <<< "$found")
    printf '%-20s %s\n' "$lib" "${hit:-not found}"
  done; nvcc --version 2>/dev/null | tail -n 1; command -v compute-sanitizer || echo "compute-sanitizer: not on PATH"; } > "$out/probe.txt" 2>&1
  cat "$out/probe.txt"
  sass
}
# Issue 5 asks the Hopper kernel's SASS for HGMMA and no local memory; the 2026-12-05 review asks whether the warp is
# reconverged (BSYNC/WARPSYNC) between gemm_ws's mbarrier spin and its first HGMMA. Counts per entry, where cuobjdump is.
sass() {
  local fb=.device/classes/kernels/gemm_wgmma.fatbin dump=$out/gemm_wgmma.sass PATH=$PATH:/usr/local/cuda/bin
  command -v cuobjdump > /dev/null || { echo "sass: no cuobjdump on PATH or in /usr/local/cuda/bin" | tee "$out/sass.txt"; return; }
  # -arch picks the sm_90a cubin; a cuobjdump that does not take that name dumps them all (the header says each one's arch)
  limited 60 cuobjdump -sass -arch sm_90a "$fb" > "$dump" 2>&1 || limited 60 cuobjdump -sass "$fb" > "$dump" 2>&1 \
    || { echo "sass: cuobjdump failed on $fb" | tee "$out/sass.txt"; return; }
  # every entry is listed, one without HGMMA too (the finding issue 5's check is for)
  awk '/Function :/ {f=$3; e[f]=1} / HGMMA/ {h[f]++} / (LDL|STL)[. ]/ {l[f]++} / (BSYNC|WARPSYNC)/ {s[f]++} END {
    for (f in e) printf "%-48s HGMMA %4d  local ld/st %3d  BSYNC/WARPSYNC %3d\n", f, h[f] + 0, l[f] + 0, s[f] + 0 }' "$dump" | sort | tee "$out/sass.txt"
  gzip -f "$dump"
}
summary=()
logs=()
note() { summary+=("$1"); echo "$1" >> "$out/summary.txt"; }   # written at once: a visit cut short keeps the finished steps' lines
run() {  # $1 = label, $2 = timeout (s), $3 = space-separated test classes (or Class#method(types)), rest = extra JVM flags
  local label=$1 limit=$2 classes=$3; shift 3
  local sel=(); for c in $classes; do
    if [[ $c == *"#"* ]]; then sel+=(--select-method="dev.puppetengine.$c"); else sel+=(--select-class="dev.puppetengine.$c"); fi
  done
  limit=$(capped "$limit")
  if [ "$limit" = 0 ]; then note "$(printf '%-18s skipped: the visit has no time left' "$label")"; return; fi
  logs+=("$out/$label.log")
  local t0=$SECONDS
  JAVA_OPTS="-Xmx8g -Dpuppet.cuda.sync=true -Dpuppet.harness.requireDevice=true $*" limited "$limit" bash .device/run org.junit.platform.console.ConsoleLauncher \
    "${sel[@]}" --details=tree --disable-banner > "$out/$label.log" 2>&1
  local rc=$?; stopped_at_limit $rc $((SECONDS - t0)) "$limit" && echo "TIMEOUT after ${limit}s" >> "$out/$label.log"
  local line; line=$(grep -E "tests (successful|failed|aborted|skipped)" "$out/$label.log" | tr -s ' ' | tr '\n' ' ')
  note "$(printf '%-18s exit %-3s %4ss  %s' "$label" "$rc" "$((SECONDS - t0))" "$line")"
}
products="backend.OpHarnessTest#matrixProducts(dev.puppetengine.tensor.DType)"
products+=" backend.OpHarnessTest#tensorCoreProducts(dev.puppetengine.tensor.DType)"
products+=" backend.OpHarnessTest#convolution(dev.puppetengine.tensor.DType)"
hopper() { nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | grep -q '^9\.0'; }   # gemm_wgmma.cu: sm_90 only
memcheck() {
  if ! command -v compute-sanitizer > /dev/null; then note "memcheck-harness   skipped: compute-sanitizer is not on PATH"; return; fi
  local limit; limit=$(capped 120)
  if [ "$limit" = 0 ]; then note "memcheck-harness   skipped: the visit has no time left"; return; fi
  local t0=$SECONDS
  # no tile probe: its child JVM would run under the sanitizer too (~10x slower), and the harness validates anyway
  JAVA_OPTS="-Xmx8g -Dpuppet.cuda.gemm.probe=false" limited "$limit" compute-sanitizer --tool memcheck --target-processes all --print-limit 50 \
    bash .device/run org.junit.platform.console.ConsoleLauncher --select-class=dev.puppetengine.backend.OpHarnessTest \
    --details=tree --disable-banner > "$out/memcheck-harness.log" 2>&1
  local rc=$?; stopped_at_limit $rc $((SECONDS - t0)) "$limit" && echo "TIMEOUT after ${limit}s (summary below is partial or absent)" >> "$out/memcheck-harness.log"
  grep -E "ERROR SUMMARY|LEAK SUMMARY" "$out/memcheck-harness.log" > "$out/memcheck-summary.txt" || echo "no ERROR SUMMARY line (exit $rc)" > "$out/memcheck-summary.txt"
  note "$(printf '%-18s exit %-3s %4ss  %s' memcheck-harness "$rc" "$((SECONDS - t0))" "$(tr '\n' ' ' < "$out/memcheck-summary.txt")")"
}
for step in $steps; do
  case $step in
    probe) probe ;;
    harness-cublas)   # where probe found it (pip's nvidia/cublas/lib too: on the loader path for JCublas, as gpu-bench.sh does)
      lib=$(awk '$1 == "libcublas.so.12" {print $2}' "$out/probe.txt" 2>/dev/null)
      if [ -z "$lib" ] || [ "$lib" = not ]; then
        run harness-cublas 40 "backend.BackendsTest backend.OpChecksTest"
      else LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        run harness-cublas 70 "backend.OpHarnessTest backend.BackendsTest backend.OpChecksTest" -Dpuppet.cuda.gemm.tile=cublas; fi ;;
    # 150 s: the tile probe stops a child after 30 s of silence per hung tile (GemmProbe), a few may hang
    harness-mma) run harness-mma 150 "backend.OpHarnessTest" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tune=false -Dpuppet.cuda.tuneCache="$out/tune" -Dpuppet.cuda.gemm.strictValidation=true ;;
    products-mma)
      for t in 128x128 128x64 64x128; do run products-$t 35 "$products" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=$t -Dpuppet.cuda.gemm.tile.strict=true; done ;;
    products-hopper)
      if hopper; then
        run tensor-maps 20 "backend.cuda.TensorMapsTest"   # the JNI shim against the real driver: a map is encoded
        for t in wgmma-ws-128x128 wgmma-tma-128x128 wgmma-ws-128x256 wgmma-tma-128x256 wgmma-128x128 wgmma-128x256; do
          run products-$t 35 "$products" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=$t -Dpuppet.cuda.gemm.tile.strict=true
        done
      else note "products-hopper    skipped: not an sm_90 GPU"; fi ;;
    harness-tiled) run harness-tiled 60 "backend.OpHarnessTest" -Dpuppet.cuda.gemm=tiled ;;
    unet-parity) run unet-parity 95 "model.UNetGpuParityTest" ;;
    sample-parity) run sample-parity 100 "pipeline.PipelineGpuParityTest" ;;
    memcheck) memcheck ;;
  esac
done
if [ ${#logs[@]} -gt 0 ]; then
  echo "--- failures (first 60 lines) ---"
  grep -h -A3 -E "✘|MethodSource|AssertionFailed|Exception|FAIL |TIMEOUT" "${logs[@]}" 2>/dev/null | head -60
  echo "--- parity margins ---"; grep -h -E "tensors compared|vs cpu:|initial noise|sampled on" "${logs[@]}" 2>/dev/null | head -30
fi
echo "--- summary ---"; printf '%s\n' "${summary[@]}"
