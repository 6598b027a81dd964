# Sourced by the device scripts (kernels/check/gpu-check.sh, kernels/bench/gpu-bench.sh, kernels/device-visit.sh).
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
