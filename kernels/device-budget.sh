# Sourced by the device scripts (kernels/check/gpu-check.sh, kernels/check/graph-check.sh, kernels/bench/gpu-bench.sh).
# The device tool kills a command at its timeout_s (600 s at most) and returns only what is under $OUT by then, so
# a visit sets DEADLINE (epoch seconds) and every step's own timeout is cut to the time left before it.
capped() {  # $1 = the step's own limit in seconds; prints the limit to use, 0 when under 10 s are left (skip the step)
  local limit=$1
  if [ -n "${DEADLINE:-}" ]; then
    local left=$((DEADLINE - $(date +%s)))
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  [ "$limit" -lt 10 ] && limit=0
  echo "$limit"
}
# Every step runs under `limited LIMIT command...`: SIGTERM at the limit (to the step's whole process group: a bench's
# PyTorch child and the GEMM probe's child too), then SIGKILL KILL_GRACE (10) s later if anything still runs, so one
# step that does not end on SIGTERM (a JVM whose exit waits on a hung kernel) cannot take the rest of the visit with it.
limited() {
  local limit=$1; shift
  timeout -k "${KILL_GRACE:-10}" "$limit" "$@"
}
stopped_at_limit() {  # $1 = the exit status of `limited`, $2 = seconds the step ran, $3 = its limit
  # 124: it ended on SIGTERM; 137: it was killed after that (or by the kernel's OOM killer, which ends it before the limit)
  [ "$1" = 124 ] || { [ "$1" = 137 ] && [ "$2" -ge "$3" ]; }
}
