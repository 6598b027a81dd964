# Sourced by emu-check.sh and mutation-check.sh: tests_on LIBDIR LOG TESTS [JVM flags...] runs the Maven test
# selection TESTS with LIBDIR's libcuda.so.1 as the driver (strict: no usable device fails instead of skipping),
# output to LOG, fresh surefire reports in target/surefire-reports; returns Maven's exit code (124 after
# SIMT_TEST_TIMEOUT seconds, default 1800: a kernel that spins without a barrier is not a detected deadlock). Each JVM
# prints how often each kernel ran (and how many TMA boxes landed) when it exits (SIMT_STATS, "[simt] N x launched name").
# test_counts sums the reports.
tests_on() {
  local lib=$1 log=$2 tests=$3 jvm= a; shift 3
  # surefire splits its argLine at blanks outside quotes: each flag quoted, so a path in one (emu-check.sh's tuning
  # cache, under a checkout in "My Projects") stays one JVM argument
  for a in -Xmx6g -XX:ErrorFile=target/hs_err_pid%p.log -Dpuppet.harness.requireDevice=true "$@"; do
    case $a in *\"*) jvm+=" '$a'" ;; *) jvm+=" \"$a\"" ;; esac
  done
  rm -rf target/surefire-reports
  SIMT_STATS=${SIMT_STATS:-1} LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout "${SIMT_TEST_TIMEOUT:-1800}" mvn -B -q -o test -Dcuda.skip=true -Dtest="$tests" \
    -Dsurefire.failIfNoSpecifiedTests=false -Dsurefire.jvm="${jvm# }" > "$log" 2>&1
}
test_counts() {
  cat target/surefire-reports/*.txt 2>/dev/null | grep -o "Tests run: [0-9]*, Failures: [0-9]*, Errors: [0-9]*, Skipped: [0-9]*" \
    | awk -F'[:,]' '{r += $2; f += $4; e += $6; s += $8} END {printf "tests %d, failed %d, errors %d, skipped %d", r, f, e, s}'
}
