#!/usr/bin/env bash
# The GPU-tagged tests on the SIMT emulator, here, without a GPU: the engine's unchanged CUDA backend (JCuda, fatbin
# loading, launch arithmetic, the caching allocator, graph capture) drives every kernel compiled for the CPU
# (kernels/check/emu/build.sh). A pass means the kernels and their launches agree with the CPU reference on the
# tests' shapes under the emulator's rules (README of this folder: what it checks and what it cannot); it is not a
# GPU result and says nothing about speed. Steps (default: all):
#   harness-mma     the op harness on the default GEMM path: mma.sync tiles validated against the CPU reference
#                   first (strict: a tile that fails validation fails the step), tuning off
#   products-mma    the product and convolution cases once per forced mma.sync tile
#   harness-hopper  harness-mma on an emulated sm_90 (SIMT_ARCH=90): gemm_wgmma.cu's tiles validated with the rest,
#                   wgmma, mbarriers, named barriers and TMA as hopper.cpp emulates them
#   products-hopper TensorMapsTest (the JNI shim against the stand-in encoders) and the cuda step's tests on sm_90,
#                   then the product and convolution cases once per forced wgmma tile (plain, warp-specialised,
#                   TMA-fed; 128 and 256 wide)
#   harness-tiled   the op harness on the tiled (no tensor-core) GEMM
#   cuda            CudaLayoutTest, CudaGraphTest, GemmTunerTest, GemmProbeTest, CudaGemmValidationTest, OpChecksTest, BackendsTest
#   unet-parity     the whole-UNet parity test (tiny UNet forward + backward, F32 and BF16)
#   sample-parity   the sampling parity tests (shipped toy model: frames vs the CPU, determinism; then CUDA graphs)
# Needs Maven's test classpath (mvn -B test-compile) and the fatbins (a build with nvcc). Logs: OUT/<step>.log and
# the step's surefire reports in OUT/<step>-reports (OUT defaults to target/simt/check), summary lines in OUT/summary.txt.
set -uo pipefail
unset CDPATH   # exported, it makes cd print where it went, which $(cd ... && pwd) would take in
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${OUT:-$root/target/simt/check}; mkdir -p "$out"; : > "$out/summary.txt"
all="harness-mma products-mma harness-hopper products-hopper harness-tiled cuda unet-parity sample-parity"
steps=${*:-$all}
for step in $steps; do [[ " $all " == *" $step "* ]] || { echo "unknown step $step (steps: $all)"; exit 2; }; done
cd "$root"
bash kernels/check/emu/build.sh || exit 1
ls target/classes/kernels/*.fatbin > /dev/null 2>&1 || { echo "[simt] no fatbins in target/classes/kernels: build with nvcc first (mvn -B -DskipTests package)"; exit 1; }
source kernels/check/emu/tests-on.sh
cuda_tests="CudaLayoutTest,CudaGraphTest,GemmTunerTest,GemmProbeTest,CudaGemmValidationTest,OpChecksTest,BackendsTest"
failed=0
run() {  # $1 = label, $2 = test selection for -Dtest, rest = JVM flags
  local label=$1 tests=$2; shift 2
  local t0=$SECONDS
  tests_on "$root/target/simt" "$out/$label.log" "$tests" "$@"
  local rc=$? counts
  counts=$(test_counts)
  { echo "--- emulator messages (count, message) ---"
    cat target/surefire-reports/*-output.txt 2>/dev/null | grep "^\[simt\]" | sort | uniq -c | sort -rn | head -20
    echo "--- per class ---"; cat target/surefire-reports/*.txt 2>/dev/null | grep -E "Tests run:|<<<"; } >> "$out/$label.log"
  rm -rf "$out/$label-reports"; cp -r target/surefire-reports "$out/$label-reports" 2>/dev/null
  [ $rc = 0 ] || failed=1
  printf '%-16s exit %-3s %5ss  %s\n' "$label" "$rc" "$((SECONDS - t0))" "$counts" | tee -a "$out/summary.txt"
}
for step in $steps; do
  case $step in
    harness-mma) run harness-mma OpHarnessTest -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tune=false -Dpuppet.cuda.gemm.strictValidation=true -Dpuppet.cuda.tuneCache="$out/tune" ;;
    products-mma)
      for t in 128x128 128x64 64x128; do
        run products-$t "OpHarnessTest#matrixProducts+tensorCoreProducts+convolution" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=$t -Dpuppet.cuda.gemm.tile.strict=true
      done ;;
    harness-hopper) SIMT_ARCH=90 run harness-hopper OpHarnessTest -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tune=false -Dpuppet.cuda.gemm.strictValidation=true -Dpuppet.cuda.tuneCache="$out/tune-sm90" ;;
    products-hopper)
      SIMT_ARCH=90 run cuda-sm90 "TensorMapsTest,$cuda_tests"
      for t in wgmma-ws-128x128 wgmma-tma-128x128 wgmma-ws-128x256 wgmma-tma-128x256 wgmma-128x128 wgmma-128x256; do
        SIMT_ARCH=90 run products-$t "OpHarnessTest#matrixProducts+tensorCoreProducts+convolution" -Dpuppet.cuda.gemm=mma -Dpuppet.cuda.gemm.tile=$t -Dpuppet.cuda.gemm.tile.strict=true
      done ;;
    harness-tiled) run harness-tiled OpHarnessTest -Dpuppet.cuda.gemm=tiled ;;
    cuda) run cuda "$cuda_tests" ;;
    unet-parity) run unet-parity UNetGpuParityTest ;;
    sample-parity)  # one JVM per class, each under its own SIMT_TEST_TIMEOUT (together they took 1660 s of 1800)
      run sample-parity PipelineGpuParityTest
      run sample-graphs CudaGraphSampleTest ;;
  esac
done
echo "--- summary ---"; cat "$out/summary.txt"
exit $failed
