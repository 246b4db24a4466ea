#!/usr/bin/env bash
# ipad end to end over PC/SC: pcscd with vsmartcard's vpcd driver, euicc-sim connected to vpcd as
# the card, and test_ipad_e2e in its PC/SC mode (IPAD_E2E_PCSC_READER): the scripted HTTPS eIM
# (127.0.0.1) is associated over PC/SC, then `ipad --once` with `card = pcsc:Virtual PCD` runs a
# setDefaultDpAddress and a listProfileInfo PSMO (pcsc_round_trip), then every PSMO and eCO
# (every_psmo_and_eco); the EPRs verify (lib/eim), carry the expected result codes, are
# acknowledged and leave the card.
#
#   test_ipad_pcsc.sh EUICC_SIM TEST_IPAD_E2E SGP26_DIR
#
# The pcscd/vpcd set-up is the shared one of tests/support/pcsc_with_euicc_sim.sh (same machine-wide
# lock): a running pcscd is used as it is; otherwise, as root, a private pcscd with only vpcd on a
# free port is started and stopped. Exit 77 (ctest SKIP) where pcscd or vpcd cannot run.
. "$(dirname "$0")/../support/pcsc_with_euicc_sim.sh"

IPAD_E2E_PCSC_READER="Virtual PCD" "$client" >"$work/client.out" 2>&1 || fail "test_ipad_e2e (PC/SC mode) failed"
grep -q "PASSED.*2 test" "$work/client.out" || fail "test_ipad_e2e (PC/SC mode) did not run its tests"

kill -TERM "$sim_pid"
wait "$sim_pid"
status=$?
sim_pid=
[ "$status" -eq 0 ] || fail "euicc-sim did not stop cleanly on SIGTERM (status $status)"
cat "$work/client.out"
echo "ipad over PC/SC: ok"
exit 0
