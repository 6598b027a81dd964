#!/usr/bin/env bash
# Kernel checks that need nvcc but no GPU: host builds of kernel index arithmetic, compared with references.
#   gemm_mma_host_check: gemm_mma.cu's tile copies (per thread, through the kernels' copy kinds, every copied element
#   against the operand's value: copy_walk.h), swizzle, ldmatrix
#   lane mapping, im2col gathers, epilogue and GEGLU
#   column interleave, for each of its three block tiles, with ldmatrix and mma.sync emulated from the PTX fragment
#   layouts, against a triple loop and direct convolutions (and no ldmatrix bank conflicts).
#   gemm_wgmma_host_check: gemm_wgmma.cu's persistent tile order, tile copies, wgmma descriptors and k slices (wgmma
#   emulated from the PTX manual's 128-byte-swizzle K-major and MN-major operand layouts and D fragment), accumulator
#   staging (no bank conflicts) and epilogue walk, all four layouts, plain / GEGLU / conv forward and weight gradient,
#   both tiles, both block organisations (gemm_ws: its ring position across tiles, C staged in 64-row halves),
#   against a triple loop.
#   gemm_wgmma_ws_host_check: gemm_ws's mbarrier / named-barrier protocol (copier and multiplying warpgroups, cp.async
#   groups, TMA copies with expected bytes, wgmma batches) as a model under random schedules, in each copy mode
#   (cp.async, mixed, TMA only): no deadlock, no copy into a stage being read, no read of a stage not yet landed, no
#   parity ambiguity, no shared staging buffer; a 2-stage cp.async ring must deadlock, a TMA copier that arrives
#   without its bytes must fail.
#   attention_mma_host_check: attention_mma.cu's tiles, fragments, P-to-A hand-over and online softmax, against a
#   double-precision softmax attention (out and log-sum-exp).
#   adam_host_check: adam.cu's multi-tensor block -> (tensor, element range) mapping over random tensor-size lists
#   (empty tensors, size 1, chunk edges): every element covered exactly once.
#   cute_layouts_check (only with CUTLASS=<a CUTLASS checkout>; CI has none): mma_emulation.h's mma.sync and ldmatrix
#   layouts, gemm_wgmma.cu's tile layouts, descriptors and D fragment and hopper_emulation.h's reading of them,
#   against CuTe's sm80 / sm75 / sm90 layouts.
# Run by .ci/run where nvcc is on PATH; about two minutes of compilation.
set -euo pipefail
unset CDPATH   # exported, it makes cd print where it went, which $(cd ... && pwd) would take in
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for check in gemm_mma_host_check gemm_wgmma_host_check gemm_wgmma_ws_host_check attention_mma_host_check adam_host_check; do
  nvcc -std=c++17 -arch=sm_80 -O2 -o "$tmp/$check" "$here/$check.cu"
  "$tmp/$check"
done
if [ -n "${CUTLASS:-}" ]; then
  nvcc -std=c++17 -O2 -I"$CUTLASS/include" -o "$tmp/cute_layouts_check" "$here/cute_layouts_check.cu"
  "$tmp/cute_layouts_check"
fi
