#!/usr/bin/env bash
# The whole GPU visit for this workplace's device tool, in one call: a session is lent 15 minutes of device time
# (a machine's start included, none started with under 4 left), one command runs at most 10 minutes, and at most
# 8 files come back from $OUT. So the steps of kernels/check/gpu-check.sh and kernels/bench/gpu-bench.sh run here
# most important first, under one DEADLINE (BUDGET seconds from now, default 560 for timeout_s 600) that cuts each
# step's own timeout to the time left. The logs so far are packed into $OUT/visit.tgz (and the status lines into
# $OUT/summary.txt) after every phase and every 20 s in between: the tool may grant less than timeout_s when the
# session's device time is short (a slow machine start eats into it), and a call killed early still returns what it
# did up to the last 20 s.
#   1. probe, then the op harness on our tensor-core path (the tuner first validates every tile, wgmma/TMA included,
#      each in a child JVM) - issue 5's correctness;
#   2. bench gemm: every UNet GEMM/conv shape, ours next to PyTorch (cuBLAS/cuDNN), plus the square products;
#   3. each Hopper tile forced on the product/conv cases, then the UNet and sampling parity tests;
#   4. bench gemm on the sm_80 path (gemm_mma.cu's tiles only), bench kernels, bench gemm on the cuBLAS path, the harness on cuBLAS and on the tiled fallback, the mma.sync
#      tiles forced, memcheck - as far as the budget goes.
# Prepare here, from a main checkout (the kernels build takes about a minute):
#   mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true && bash kernels/pack-device.sh
#   (the bundle and the tracked tree must stay under the tool's 64 MiB; pack-device.sh checks)
# then call the device tool with carry [".device"], timeout_s 600, command: bash kernels/device-visit.sh
# Afterwards: unpack visit.tgz, commit the logs under docs/runs/<date>-*, numbers into docs/PERFORMANCE.md. A bench
# step stopped while PyTorch was timing leaves bench/<step>.json and <step>.json.torch.json: make its table here with
#   ./puppet-engine bench gemm --ours-results bench/gemm.json --torch-results bench/gemm.json.torch.json
set -uo pipefail
final=${OUT:-/tmp/out}; mkdir -p "$final"
work=$(mktemp -d /tmp/visit.XXXXXX)
export DEADLINE=$(( $(date +%s) + ${BUDGET:-560} ))
here=$(dirname "$0")
pack() {  # atomic renames: the background packer and a phase's pack may overlap (each writes its own temporaries)
  local tag=$BASHPID  # read here: in a redirection of an external command it would be the child's pid
  cat "$work"/check/summary.txt "$work"/bench/summary.txt > "$final/.summary.$tag" 2>/dev/null
  mv "$final/.summary.$tag" "$final/summary.txt"
  # tar exits 1 when a file changed while it read it (a bench step rewrites its JSON after every case): still a snapshot
  tar czf "$final/.visit.$tag" -C "$work" . 2>/dev/null; [ $? -le 1 ] && mv "$final/.visit.$tag" "$final/visit.tgz"
}
( while sleep 20; do pack; done ) & packer=$!
trap 'kill $packer 2>/dev/null' EXIT
phase() {  # $1 = check | bench, then the steps
  local kind=$1; shift
  local script="$here/check/gpu-check.sh"; [ "$kind" = bench ] && script="$here/bench/gpu-bench.sh"
  echo "=== $kind: $* ($(( DEADLINE - $(date +%s) )) s left)"
  OUT="$work/$kind" bash "$script" "$@" 2>&1 | tee -a "$work/console-$kind.txt"
  pack
}
phase check probe harness-mma
phase bench gemm
phase check products-hopper unet-parity sample-parity
phase bench gemm-sm80 kernels gemm-cublas
phase check harness-cublas harness-tiled products-mma memcheck
kill $packer 2>/dev/null; wait $packer 2>/dev/null; pack
echo "=== visit done, $(( DEADLINE - $(date +%s) )) s of the budget left; logs: \$OUT/visit.tgz"
cat "$final/summary.txt"
