#!/bin/sh
# smdpd end to end: make a test PKI (DPauth/DPpb/DPtls for localhost under the SGP.26 CIs, and a
# second PKI under another CI), then run test_smdpd, which starts and restarts smdpd itself on
# 127.0.0.1 (a free port). The trap stops any smdpd left running, whatever happens.
# usage: run_smdpd_tests.sh SGP32_PKI SMDPD TEST_SMDPD SPEC_DIR WORK_DIR
set -eu
pki=$1 smdpd=$2 test=$3 spec=$4 work=$5
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  if [ -f "$work/smdpd.pid" ]; then
    pid=$(cat "$work/smdpd.pid")
    kill "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM
"$pki" generate --out "$work/pki" --sgp26 "$spec/sgp26" --dp-host localhost >/dev/null
"$pki" generate --out "$work/pki2" --curve nist >/dev/null
SMDP_WORK=$work SMDPD=$smdpd "$test"
