#!/usr/bin/env bash
# The PC/SC APDU transport of lib/transport end to end: pcscd with vsmartcard's vpcd driver,
# euicc-sim connected to vpcd as the card, and pcsc_transport_client (sgp32_apdu_pcsc over T=0,
# T=1 and "any"; SELECT ISD-R, GetEID, logical channel, reset, reopen).
#
#   test_transport_pcsc.sh EUICC_SIM PCSC_TRANSPORT_CLIENT SGP26_DIR
#
# The pcscd/vpcd set-up is the one of tests/euicc/test_pcsc.sh (same lock file, so the two never
# run at once): a running pcscd is used as it is; otherwise, as root, a private pcscd with only
# vpcd on a free port is started and stopped. Exit 77 (ctest SKIP) where pcscd or vpcd cannot run.
. "$(dirname "$0")/../support/pcsc_with_euicc_sim.sh"

"$client" "Virtual PCD" >"$work/client.out" 2>&1 || fail "pcsc_transport_client failed"
grep -q "^ok\$" "$work/client.out" || fail "pcsc_transport_client did not finish"

kill -TERM "$sim_pid"
wait "$sim_pid"
status=$?
sim_pid=
[ "$status" -eq 0 ] || fail "euicc-sim did not stop cleanly on SIGTERM (status $status)"
cat "$work/client.out"
echo "PC/SC transport end to end: ok"
exit 0
