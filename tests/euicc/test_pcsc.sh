#!/usr/bin/env bash
# euicc-sim as a PC/SC card, end to end: pcscd with vsmartcard's vpcd driver, euicc-sim connected
# to vpcd, and a pcsclite client (pcsc_read_eid) that opens a channel, SELECTs the ISD-R and reads
# the EID with STORE DATA GetEID, over T=0 and over T=1 on the basic channel.
#
#   test_pcsc.sh EUICC_SIM PCSC_READ_EID SGP26_DIR
#
# pcscd: a running one (or systemd's pcscd.socket) is used as it is, with the vpcd port of
# /etc/reader.conf.d/vpcd; otherwise the test starts its own in the foreground with a private
# reader.conf.d holding only vpcd on a free port, and stops it at the end. Starting pcscd needs
# root (/run/pcscd). Exit 77 (ctest SKIP) when pcscd or vpcd are not installed or cannot run here.
. "$(dirname "$0")/../support/pcsc_with_euicc_sim.sh"

# T=0 (the first protocol the ATR offers) through a logical channel.
"$client" --reader "Virtual PCD" --wait 20 --protocol t0 --unpower >"$work/client.out" 2>&1 ||
    fail "pcsc_read_eid (T=0, logical channel) failed"
grep -q "^EID $expected\$" "$work/client.out" || fail "pcsc_read_eid did not print EID $expected"
grep -q "protocol T=0" "$work/client.out" || fail "T=0 was not negotiated"
# T=1, basic channel.
"$client" --reader "Virtual PCD" --wait 20 --protocol t1 --basic >>"$work/client.out" 2>&1 ||
    fail "pcsc_read_eid (T=1, basic channel) failed"
[ "$(grep -c "^EID $expected\$" "$work/client.out")" -eq 2 ] || fail "the second read did not print EID $expected"

kill -TERM "$sim_pid"
wait "$sim_pid"
status=$?
sim_pid=
[ "$status" -eq 0 ] || fail "euicc-sim did not stop cleanly on SIGTERM (status $status)"
grep "^EID\|^reader" "$work/client.out"
echo "PC/SC end to end: ok"
exit 0
