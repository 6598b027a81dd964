#!/usr/bin/env bash
# One device visit: the CUDA op harness twice (cuBLAS GEMM, then the built-in GEMM kernel), each launch
# synchronized so a fault names its kernel. Prepare here:
#   mvn -B -DskipTests package && ../shared/tools/device-pack --tests     (or /work/shared/tools/device-pack)
# then call the device tool with carry [".device"] and command: bash kernels/check/gpu-check.sh
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
run() {  # $1 = label, rest = extra JVM flags
  local label=$1; shift
  JAVA_OPTS="-Xmx8g -Dpuppet.cuda.sync=true $*" timeout 400 bash .device/run org.junit.platform.console.ConsoleLauncher \
    --select-class=dev.puppetengine.backend.OpHarnessTest --select-class=dev.puppetengine.backend.BackendsTest \
    --details=tree --disable-banner > "$out/harness-$label.log" 2>&1
  echo "$label: exit $?"; grep -E "tests (successful|failed|aborted|skipped)" "$out/harness-$label.log"
}
run cublas
run builtin -Dpuppet.cuda.gemm=builtin
echo "--- failures (first 40 lines) ---"; grep -h -A3 -E "✘|MethodSource|AssertionFailed|Exception" "$out"/harness-*.log | head -40
