#!/bin/sh
# tests/install/check_install.sh: gort as a user's project gets it.
#
#   check_install.sh BUILD SOURCE WORK GENERATOR GENERATIONAL
#
# 1. Installs the library built in BUILD into WORK/prefix (cmake --install).
# 2. Builds tests/install/consumer with find_package(gort) against that
#    prefix, then against BUILD itself (gort_DIR), and runs each: they must
#    print "consumer: ok". GENERATIONAL (0 or 1) is the barrier layout BUILD
#    was configured with; the consumer checks at compile time that the
#    exported target passed it on.
# 3. Configures (only) a second gort tree with GORT_GENERATIONAL_BARRIER=ON
#    and checks that its exported target carries the definition.
set -eu
build=$1 src=$2 work=$3 generator=$4 generational=$5
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for kind in prefix tree; do
  if [ "$kind" = prefix ]; then where="-DCMAKE_PREFIX_PATH=$work/prefix"; else where="-Dgort_DIR=$build"; fi
  cmake -S "$src/tests/install/consumer" -B "$work/consumer-$kind" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    "$where" -DEXPECT_GENERATIONAL="$generational" > "$work/configure-$kind.log"
  cmake --build "$work/consumer-$kind" > "$work/build-$kind.log"
  out=$("$work/consumer-$kind/consumer")
  echo "$kind: $out"
  [ "$out" = "consumer: ok" ]
done
cmake -S "$src" -B "$work/gort-generational" -G "$generator" -Wno-dev -DGORT_GENERATIONAL_BARRIER=ON \
  -DGORT_BUILD_EXAMPLES=OFF > "$work/configure-generational.log"
grep -q 'INTERFACE_COMPILE_DEFINITIONS "GORT_GENERATIONAL_BARRIER=1"' "$work/gort-generational/gortTargets.cmake"
echo "generational build tree: exports GORT_GENERATIONAL_BARRIER=1"
