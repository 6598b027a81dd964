#!/usr/bin/env bash
# One device visit for the CUDA-graph sampling path (docs/CUDA.md, "CUDA graphs"). Prepare here:
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && bash kernels/pack-device.sh
# then call the device tool with carry [".device"], timeout_s 600 and command: bash kernels/check/graph-check.sh
# (about 5 minutes; the steps' own limits add up to 700 s, so each is cut to a DEADLINE, BUDGET s from the start
# (default 560), as kernels/device-visit.sh does: a command the tool kills at its limit loses the step it was in)
# 1. the capture tests (CudaGraphTest: static inputs read at replay, failed capture cleans up; CudaGraphSampleTest:
#    models/toy frames identical with and without the graph, F32 and BF16, pool given back);
# 2. the affine_dev kernel in the op harness context (OpHarnessTest is in gpu-check.sh; not repeated here);
# 3. bench sample on models/toy, eager vs --cuda-graph (same seed), for the per-step time.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
export DEADLINE=${DEADLINE:-$(( $(date +%s) + ${BUDGET:-560} ))}
source "$(dirname "$0")/../device-budget.sh"
limited 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
limit=$(capped 300)   # 0: under 10 s left (a limit of 0 would mean none)
if [ "$limit" = 0 ]; then echo "graph tests: skipped, the visit has no time left"; else
  JAVA_OPTS="-Xmx8g" limited "$limit" bash .device/run org.junit.platform.console.ConsoleLauncher \
    --select-class=dev.puppetengine.backend.cuda.CudaGraphTest --select-class=dev.puppetengine.pipeline.CudaGraphSampleTest \
    --details=tree --disable-banner > "$out/graph-tests.log" 2>&1
  echo "graph tests: exit $?"; grep -E "tests (successful|failed|aborted|skipped)" "$out/graph-tests.log"
fi
for mode in eager graph; do
  flag=""; [ $mode = graph ] && flag="--cuda-graph"
  limit=$(capped 200); [ "$limit" = 0 ] && { echo "bench $mode: skipped, the visit has no time left"; continue; }
  JAVA_OPTS="-Xmx8g" limited "$limit" bash .device/run dev.puppetengine.cli.Main bench sample --model models/toy --device cuda \
    --steps 25 --frames 14 --warmup 1 --repeat 3 $flag --json "$out/bench-$mode.json" > "$out/bench-$mode.log" 2>&1
  echo "bench $mode: exit $?"; grep -E "unet per step|CUDA graph|capture" "$out/bench-$mode.log" | head -5
done
echo "--- failures (first 40 lines) ---"; grep -h -A3 -E "✘|MethodSource|AssertionFailed|Exception" "$out/graph-tests.log" 2>/dev/null | head -40
