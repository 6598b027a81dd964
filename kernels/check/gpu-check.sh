#!/usr/bin/env bash
# One device visit, about 14 minutes at most (every step has its own timeout; typical total is far less):
#   1. the CUDA op harness three times, once per GEMM path (default: cuBLAS where libcublas.so.12 loads; then our
#      tensor-core kernel with implicit-GEMM convolution, -Dpuppet.cuda.gemm=mma; then the tiled fallback), each
#      launch synchronized so a fault names its kernel; the tensor-core path once more per forced block tile
#      (the product and convolution cases with -Dpuppet.cuda.gemm.tile: the tuner picks tiles per shape, so one run
#      need not use them all; on sm_90 each wgmma tile: plain, warp-specialised, TMA-fed);
#   2. the whole-UNet parity test (tiny UNet forward + backward, F32 and BF16, checkpointing off/on) and
#   3. the sampling parity test (shipped toy model, 3 steps: Philox noise, frames, determinism), both synchronized;
#   4. if compute-sanitizer is on PATH: memcheck over the op harness only (it slows kernels ~10x), summary kept.
# Prepare here (the sampling test reads models/toy from the working tree, which travels with the command):
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && /work/shared/tools/device-pack --tests --desktop
# then call the device tool with carry [".device"] and command: bash kernels/check/gpu-check.sh
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
# What the engine's native bindings can load here (docs/CUDA.md "What loads on the GPU machine" records it):
# libcuda (JCuda driver API), libcublas.so.12 (JCublas 12.6), libcudnn.so.8 (JCudnn 11.7; unused by the engine).
{ for lib in libcuda.so.1 libcublas.so.12 libcublasLt.so.12 libcudnn.so.8 libcublas.so.13 libcudnn.so.9; do
    hit=$(ldconfig -p 2>/dev/null | grep -m1 " $lib " | sed 's/.*=> //')
    [ -z "$hit" ] && hit=$(timeout 20 find /usr /opt $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) \
      -name "$lib*" 2>/dev/null | head -n 1)
    printf '%-20s %s\n' "$lib" "${hit:-not found}"
  done; nvcc --version 2>/dev/null | tail -n 1; command -v compute-sanitizer || echo "compute-sanitizer: not on PATH"; } > "$out/probe.txt" 2>&1
cat "$out/probe.txt"
summary=()
run() {  # $1 = label, $2 = timeout (s), $3 = space-separated test classes (or Class#method(types)), rest = extra JVM flags
  local label=$1 limit=$2 classes=$3; shift 3
  local sel=(); for c in $classes; do
    if [[ $c == *"#"* ]]; then sel+=(--select-method="dev.puppetengine.$c"); else sel+=(--select-class="dev.puppetengine.$c"); fi
  done
  local t0=$SECONDS
  JAVA_OPTS="-Xmx8g -Dpuppet.cuda.sync=true $*" timeout "$limit" bash .device/run org.junit.platform.console.ConsoleLauncher \
    "${sel[@]}" --details=tree --disable-banner > "$out/$label.log" 2>&1
  local rc=$?; [ $rc = 124 ] && echo "TIMEOUT after ${limit}s" >> "$out/$label.log"
  local line; line=$(grep -E "tests (successful|failed|aborted|skipped)" "$out/$label.log" | tr -s ' ' | tr '\n' ' ')
  summary+=("$(printf '%-18s exit %-3s %4ss  %s' "$label" "$rc" "$((SECONDS - t0))" "$line")")
}
products="backend.OpHarnessTest#matrixProducts(dev.puppetengine.tensor.DType)"
products+=" backend.OpHarnessTest#tensorCoreProducts(dev.puppetengine.tensor.DType)"
products+=" backend.OpHarnessTest#convolution(dev.puppetengine.tensor.DType)"
run harness-cublas   70 "backend.OpHarnessTest backend.BackendsTest"
run harness-mma      70 "backend.OpHarnessTest" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.tuneCache="$out/tune"
run products-128x64  35 "$products" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=128x64
run products-64x128  35 "$products" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=64x128
if nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | grep -q '^9\.0'; then   # gemm_wgmma.cu: sm_90 only
  run tensor-maps 20 "backend.cuda.TensorMapsTest"   # the JNI shim against the real driver: a map is encoded
  for t in wgmma-128x128 wgmma-128x256 wgmma-ws-128x128 wgmma-ws-128x256 wgmma-tma-128x128 wgmma-tma-128x256; do
    run products-$t 35 "$products" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=$t
  done
fi
run harness-tiled    60 "backend.OpHarnessTest" -Dpuppet.cuda.gemm=tiled
run unet-parity      95 "model.UNetGpuParityTest"
run sample-parity   100 "pipeline.PipelineGpuParityTest"
if command -v compute-sanitizer > /dev/null; then
  t0=$SECONDS
  JAVA_OPTS="-Xmx8g" timeout 120 compute-sanitizer --tool memcheck --target-processes all --print-limit 50 \
    bash .device/run org.junit.platform.console.ConsoleLauncher --select-class=dev.puppetengine.backend.OpHarnessTest \
    --details=tree --disable-banner > "$out/memcheck-harness.log" 2>&1
  rc=$?; [ $rc = 124 ] && echo "TIMEOUT after 120s (summary below is partial or absent)" >> "$out/memcheck-harness.log"
  grep -E "ERROR SUMMARY|LEAK SUMMARY" "$out/memcheck-harness.log" > "$out/memcheck-summary.txt" || echo "no ERROR SUMMARY line (exit $rc)" > "$out/memcheck-summary.txt"
  summary+=("$(printf '%-18s exit %-3s %4ss  %s' memcheck-harness "$rc" "$((SECONDS - t0))" "$(tr '\n' ' ' < "$out/memcheck-summary.txt")")")
else
  summary+=("memcheck-harness   skipped: compute-sanitizer is not on PATH")
fi
echo "--- failures (first 60 lines) ---"
grep -h -A3 -E "✘|MethodSource|AssertionFailed|Exception|FAIL |TIMEOUT" "$out"/harness-*.log "$out"/products-*.log "$out"/*-parity.log | head -60
echo "--- parity margins ---"; grep -h -E "tensors compared|vs cpu:|initial noise|sampled on" "$out"/*-parity.log | head -30
echo "--- summary ---"; printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
