#!/usr/bin/env bash
# pack-reference: export the REFERENCE sources kernels/bench/torch_sample.py imports into .device-ref/ (ignored by git
# through .git/info/exclude, like device-pack's .device/), for the GPU machine, which has torch and numpy but no
# network and probably no diffusers. Run on the build machine from the repository root:
#   bash kernels/bench/pack-reference.sh [--puppet-master GIT_DIR] [--diffusers GIT_DIR]
# GIT_DIR: a clone or bare mirror of each repository (defaults: the local mirrors under /work/.mirror). Writes
#   .device-ref/puppet-master/   networks.py, network_utils.py (all networks.py imports) at PM_COMMIT
#   .device-ref/diffusers/src/   diffusers' package at DIFFUSERS_COMMIT (pinned by puppet-master's requirements.txt),
#                                without pipelines/, commands/, experimental/ (never imported on this path; 6.5 MB)
#   .device-ref/site/            pure-python packages diffusers imports for real: packaging, tqdm, and requests with
#                                urllib3, idna, certifi (its import-time version check wants requests' metadata)
#   .device-ref/REF.txt          the commits and versions, copied into torch_sample.py's JSON
# Then carry [".device", ".device-ref"] to the device (64 MiB in all with the tracked tree; this is about 5 MB).
# Nothing here is committed: the reference code stays out of the repository.
set -euo pipefail
PM_COMMIT=c88efd3c758c13546295482b2deb31fe887f6d49
DIFFUSERS_COMMIT=8e1b7a084addc4711b8d9be2738441dfad680ce0
pm=/work/.mirror/RuiningLi+puppet-master/repo
df=/work/.mirror/huggingface+diffusers/repo
while [ $# -gt 0 ]; do
  case "$1" in
    --puppet-master) pm=$2; shift 2 ;;
    --diffusers) df=$2; shift 2 ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "pack-reference: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f pom.xml ] || { echo "pack-reference: run me from the repository root" >&2; exit 2; }
gitdir() { if [ -d "$1/.git" ]; then echo "$1/.git"; else echo "$1"; fi; }
pmg=$(gitdir "$pm"); dfg=$(gitdir "$df")
git --git-dir="$pmg" cat-file -e "$PM_COMMIT^{commit}" 2>/dev/null || { echo "pack-reference: $pm lacks puppet-master $PM_COMMIT" >&2; exit 1; }
git --git-dir="$dfg" cat-file -e "$DIFFUSERS_COMMIT^{commit}" 2>/dev/null || { echo "pack-reference: $df lacks diffusers $DIFFUSERS_COMMIT" >&2; exit 1; }

exclude="$(git rev-parse --git-common-dir)/info/exclude"  # (also right in a git worktree)
mkdir -p "$(dirname "$exclude")"; grep -qx '/.device-ref/' "$exclude" 2>/dev/null || echo '/.device-ref/' >> "$exclude"
rm -rf .device-ref && mkdir -p .device-ref/puppet-master .device-ref/diffusers .device-ref/site
git --git-dir="$pmg" archive "$PM_COMMIT" networks.py network_utils.py | tar -x -C .device-ref/puppet-master
git --git-dir="$dfg" archive "$DIFFUSERS_COMMIT" src/diffusers LICENSE | tar -x -C .device-ref/diffusers
rm -rf .device-ref/diffusers/src/diffusers/{pipelines,commands,experimental}

# Pure-python wheels (py3-none-any, so the device's Python version does not matter), unpacked without their deps.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pkgs=(packaging tqdm requests urllib3 idna certifi)
python3 -m pip download -q --no-deps --only-binary=:all: \
  -d "$tmp" "${pkgs[@]}" 2>&1 | grep -v -E "Retrying|is ignored" >&2 || true
for p in "${pkgs[@]}"; do
  w=$(ls "$tmp"/"$p"-*-py3-none-any.whl 2>/dev/null | head -n 1)
  [ -n "$w" ] || { echo "pack-reference: no pure-python wheel of $p was downloadable" >&2; exit 1; }
  python3 -m zipfile -e "$w" .device-ref/site
done

{
  echo "puppet-master $PM_COMMIT"
  echo "diffusers $DIFFUSERS_COMMIT"
  echo "site $(cd "$tmp" && ls *.whl | sed 's/-py3-none-any.whl//' | tr '\n' ' ')"
  echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > .device-ref/REF.txt
find .device-ref -name __pycache__ -prune -exec rm -rf {} +
cat .device-ref/REF.txt
du -sh .device-ref | awk '{print "pack-reference: .device-ref is " $1}'
