#!/usr/bin/env bash
# The committed ASN.1 type tables must be what scripts/asn1gen.py makes from the schema today.
set -euo pipefail
src=$1 spec=$2 work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$src/scripts/asn1gen.py" "$spec/asn1" "$work/asn1_types.h" "$work/asn1_types.c"
cp "$src/.clang-format" "$work/"
clang-format -i "$work/asn1_types.h" "$work/asn1_types.c"
if ! diff -q "$work/asn1_types.h" "$src/include/sgp32/asn1_types.h" >/dev/null ||
   ! diff -q "$work/asn1_types.c" "$src/lib/asn1/asn1_types.c" >/dev/null; then
  echo "include/sgp32/asn1_types.h or lib/asn1/asn1_types.c is stale: run 'make asn1-types' and commit" >&2
  exit 1
fi
echo "asn1 type tables are current"
