#!/usr/bin/env bash
# Bundles the built project into .device/ for this workplace's device tool, small enough to travel: the tool carries
# at most 64 MiB per call, the tracked tree (about 20 MB, mostly models/toy) included, and a plain
# `device-pack --tests --desktop` bundle is ~70 MB on its own. On top of device-pack (../shared/tools/device-pack):
#   - kernels for the device's architecture only (CUDA_ARCHS, default 90a: H100/H200), built into a scratch folder,
#     so target/classes keeps the portable set;
#   - no jars the device never loads: JMH and its dependencies (benchmarks run from `mvn -Pjmh`'s own jar), and the
#     JUnit jars the console launcher's standalone jar already holds;
#   - the Java runtime (java.desktop included, for the sampling parity test's images) as xz instead of gzip; the
#     launcher unpacks it with tar, or python3's tarfile where tar has no xz.
# Then it prints what would travel (with .device-ref/ too where kernels/bench/pack-reference.sh made one) and fails if
# the bundle and the tree are over the limit.
# Prepare first: mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true
# Use: bash kernels/pack-device.sh [--no-tests], then the device tool with carry [".device"] (kernels/device-visit.sh
# says how). --no-tests: no test classes or JUnit (the benchmarks alone; room for .device-ref's reference pipeline).
set -euo pipefail
tests=1
for a in "$@"; do
  case $a in --no-tests) tests=0 ;; *) echo "pack-device: unknown option $a (--no-tests)" >&2; exit 2 ;; esac
done
[ -f pom.xml ] || { echo "pack-device: run me from the project root" >&2; exit 2; }
[ -d target/classes ] && { [ $tests = 0 ] || [ -d target/test-classes ]; } || { echo "pack-device: build first: mvn -B -DskipTests package && mvn -B test-compile -Dcuda.skip=true" >&2; exit 2; }
command -v nvcc > /dev/null || { echo "pack-device: nvcc is needed to build the kernels" >&2; exit 2; }
command -v zip > /dev/null || { echo "pack-device: zip is needed to trim jcuda-natives" >&2; exit 2; }
pack=${DEVICE_PACK:-../shared/tools/device-pack}
[ -f "$pack" ] || { echo "pack-device: no device-pack at $pack (set DEVICE_PACK to its path)" >&2; exit 2; }
if [ $tests = 1 ]; then bash "$pack" --tests --desktop > /dev/null; else bash "$pack" --desktop > /dev/null; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

CUDA_ARCHS=${CUDA_ARCHS:-90a} bash kernels/build.sh "$tmp/kernels" > "$tmp/kernels.log" 2>&1 || { cat "$tmp/kernels.log"; exit 1; }
cp "$tmp"/kernels/*.fatbin .device/classes/kernels/

for jar in jmh-core commons-math3 jopt-simple junit-jupiter-api junit-jupiter-engine junit-jupiter-params \
           junit-platform-commons junit-platform-engine junit-platform-launcher opentest4j apiguardian-api; do
  rm -f .device/lib/"$jar"-[0-9]*.jar
done
[ $tests = 0 ] || ls .device/lib/junit-platform-console-standalone-*.jar > /dev/null   # the launcher the device scripts run
# jcuda-natives also carries JCuda's NvPTXCompiler binding (24 MB unpacked, 8.9 MB of the jar): the engine loads
# prebuilt fatbins and never compiles PTX, so only the driver's and runtime's libraries stay.
# (zip exits 12 when nothing matched: a JCuda without that binding is fine as it is)
zip -q -d .device/lib/jcuda-natives-*.jar 'lib/libJNvPTXCompiler-*' || [ $? = 12 ] || { echo "pack-device: zip could not trim jcuda-natives" >&2; exit 1; }
unzip -l .device/lib/jcuda-natives-*.jar | grep -q 'lib/libJCudaDriver-' || { echo "pack-device: jcuda-natives lost its driver library" >&2; exit 1; }

jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
"$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported,jdk.management,java.xml,java.desktop \
  --strip-debug --no-man-pages --no-header-files --compress=0 --output "$tmp/jre"
tar -C "$tmp" -cf - jre | xz -9e -T0 > .device/jre.txz
rm -f .device/jre.tgz
cat > .device/run <<'RUN'
#!/usr/bin/env bash
# Unpacks the bundled runtime once, then runs java with the project's classes and jars on the class path.
set -e
here=$(cd "$(dirname "$0")" && pwd)
j=/tmp/device-jre/jre/bin/java
if [ ! -x "$j" ]; then
  mkdir -p /tmp/device-jre
  tar -C /tmp/device-jre -xJf "$here/jre.txz" 2> /dev/null \
    || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/jre.txz" /tmp/device-jre
fi
cp="$here/classes:$here/lib/*"
[ -d "$here/test-classes" ] && cp="$here/test-classes:$cp"
exec "$j" ${JAVA_OPTS:-} -cp "$cp" "$@"
RUN
chmod +x .device/run

tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -n 1 | cut -f1)
dev=$(du -sb .device | cut -f1)
total=$((tree + ${untracked:-0} + dev)); limit=$((64 * 1024 * 1024))
printf 'pack-device: .device %.1f MiB + tracked tree %.1f MiB + untracked %.1f MiB = %.1f MiB of %d MiB\n' \
  "$(echo "$dev / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)" "$(echo "${untracked:-0} / 1048576" | bc -l)" \
  "$(echo "$total / 1048576" | bc -l)" $((limit / 1048576))
du -sh .device/* | sed 's/^/  /'
[ "$total" -le "$limit" ] || { echo "pack-device: over the device tool's limit" >&2; exit 1; }
if [ -d .device-ref ]; then
  ref=$(du -sb .device-ref | cut -f1)
  printf 'pack-device: with .device-ref (%.1f MiB): %.1f MiB%s\n' "$(echo "$ref / 1048576" | bc -l)" \
    "$(echo "($total + $ref) / 1048576" | bc -l)" "$([ $((total + ref)) -le "$limit" ] || echo ": over the limit, carry it only with --no-tests")"
fi
