#!/usr/bin/env bash
# Installs the Debian packages a make target needs, and only the missing ones.
#
#   scripts/deps.sh GROUP...      GROUP is one of: build, test, bench
#
# 1. Collect the packages of the named groups.
# 2. Ask dpkg which of them are not installed; if none, exit 0 silently.
# 3. As root, run apt-get update once and apt-get install -y the missing ones.
#    With passwordless sudo, do the same through sudo.
# 4. Otherwise print the one apt-get line to run and exit 1, so make stops.
set -euo pipefail

declare -A group
group[build]="cmake make g++ libunwind-dev libfmt-dev"
group[test]="catch2"
group[bench]="libbenchmark-dev libmimalloc-dev libjemalloc-dev libgc-dev golang-go"

want=()
for g in "$@"; do
  [ -n "${group[$g]+x}" ] || { echo "deps.sh: unknown group '$g'" >&2; exit 2; }
  for p in ${group[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "gort: installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "gort: missing packages and no root or passwordless sudo. Run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
