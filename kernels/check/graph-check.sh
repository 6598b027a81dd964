#!/usr/bin/env bash
# One device visit for the CUDA-graph sampling path (docs/CUDA.md, "CUDA graphs"). Prepare here:
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && bash kernels/pack-device.sh
# then call the device tool with carry [".device"] and command: bash kernels/check/graph-check.sh   (about 5 minutes)
# 1. the capture tests (CudaGraphTest: static inputs read at replay, failed capture cleans up; CudaGraphSampleTest:
#    models/toy frames identical with and without the graph, F32 and BF16, pool given back);
# 2. the affine_dev kernel in the op harness context (OpHarnessTest is in gpu-check.sh; not repeated here);
# 3. bench sample on models/toy, eager vs --cuda-graph (same seed), for the per-step time.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
JAVA_OPTS="-Xmx8g" timeout 300 bash .device/run org.junit.platform.console.ConsoleLauncher \
  --select-class=dev.puppetengine.backend.cuda.CudaGraphTest --select-class=dev.puppetengine.pipeline.CudaGraphSampleTest \
  --details=tree --disable-banner > "$out/graph-tests.log" 2>&1
echo "graph tests: exit $?"; grep -E "tests (successful|failed|aborted|skipped)" "$out/graph-tests.log"
for mode in eager graph; do
  flag=""; [ $mode = graph ] && flag="--cuda-graph"
  JAVA_OPTS="-Xmx8g" timeout 200 bash .device/run dev.puppetengine.cli.Main bench sample --model models/toy --device cuda \
    --steps 25 --frames 14 --warmup 1 --repeat 3 $flag --json "$out/bench-$mode.json" > "$out/bench-$mode.log" 2>&1
  echo "bench $mode: exit $?"; grep -E "unet per step|CUDA graph|capture" "$out/bench-$mode.log" | head -5
done
echo "--- failures (first 40 lines) ---"; grep -h -A3 -E "✘|MethodSource|AssertionFailed|Exception" "$out/graph-tests.log" | head -40
