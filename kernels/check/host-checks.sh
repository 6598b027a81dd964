#!/usr/bin/env bash
# Kernel checks that need nvcc but no GPU: host builds of kernel index arithmetic, compared with references.
#   gemm_mma_host_check: gemm_mma.cu's tile copy, swizzle, ldmatrix lane mapping and epilogue, with ldmatrix and
#   mma.sync emulated from the PTX fragment layouts, against a triple loop (and no ldmatrix bank conflicts).
# Run by .ci/run where nvcc is on PATH; about a minute of compilation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nvcc -std=c++17 -arch=sm_80 -O2 -o "$tmp/gemm_mma_host_check" "$here/gemm_mma_host_check.cu"
"$tmp/gemm_mma_host_check"
