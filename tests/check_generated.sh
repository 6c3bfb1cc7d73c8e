#!/usr/bin/env bash
# Checks that the committed size-class header matches what the generator
# produces today.
# usage: check_generated.sh GENERATOR_BINARY COMMITTED_HEADER
set -u

if [ "$#" -ne 2 ]; then
  echo "usage: $0 GENERATOR_BINARY COMMITTED_HEADER" >&2
  exit 2
fi
gen=$1
header=$2

if [ ! -x "$gen" ]; then
  echo "check_generated: generator '$gen' is missing or not executable" >&2
  exit 2
fi
if [ ! -f "$header" ]; then
  echo "check_generated: header '$header' does not exist" >&2
  exit 2
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/size_classes.XXXXXX") || exit 2
trap 'rm -f "$tmp"' EXIT

if ! "$gen" "$tmp"; then
  echo "check_generated: generator '$gen' failed" >&2
  exit 1
fi

if ! diff -u "$header" "$tmp"; then
  echo "include/gort/internal/size_classes.hpp is stale: rerun tools/mksizeclasses" >&2
  exit 1
fi
echo "check_generated: $header is up to date"
