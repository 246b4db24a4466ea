#!/usr/bin/env bash
# ipad end to end against the real eimd and smdpd (127.0.0.1, free ports, TLS verified with the
# sgp32-pki CI everywhere) with euicc-sim as the card. The card is registered at eimd and gets this
# eIM by AddInitialEim (REST eim-configuration, sent over euicc-sim's unix socket); profiles come
# from ES2+ orders at smdpd (downloadOrder + confirmOrder), their activation codes go into eimd
# download operations. The card is checked with ES10 over the socket (GetProfilesInfo,
# RetrieveNotificationsList), smdpd's orders with smdpd --check.
#   1. indirect download (ipa_features = indirect): ipad --once relays ES9+ through eimd; the
#      profile is on the card, the operation is done, the order Installed (eimd forwarded the PIR);
#   2. direct download (ipa_features = direct, smdp_ca_file = the CI): ipad --once talks ES9+ to
#      smdpd itself (eimd relays nothing); the same checks;
#   3. enable profile 1 with rollbackFlag; ipad's connectivity_check passes with it: ipad reports
#      over the new profile (the check ran with its ICCID, then a new ESipa session), the operation
#      is done, the card runs profile 1, no rollback, its notifications went to eimd;
#   4. enable profile 2 with rollbackFlag; connectivity_check fails with it ("cannot attach"):
#      ipad as a daemon rolls back by itself (ES10b ProfileRollback), the card runs profile 1
#      again, eimd's result shows the rollback; 4b: the same with two ipad --once runs;
#   5. a notification backlog above the IPA core's default 8 KiB message cap (local ES10c profile
#      switches, the simulator's test switch) is delivered and leaves the card; every notification
#      eimd took for smdpd was forwarded to it.
# Mode socket (ctest ipad_real): ipad's card is euicc-sim's unix socket. Mode pcsc (ctest
# ipad_real_pcsc): pcscd + vpcd as tests/support/pcsc_with_euicc_sim.sh sets them up (exit 77
# where they cannot run), euicc-sim connected to vpcd as well, ipad's card `pcsc:Virtual PCD`.
#
# usage: run_ipad_real.sh socket|pcsc SGP32_PKI EIMD SMDPD IPAD EUICC_SIM EUICC_CLIENT SPEC_DIR WORK_DIR
#                         [PCSC_READ_EID]   (pcsc mode)
set -eu
[ $# -ge 9 ] || { echo "usage: $0 socket|pcsc SGP32_PKI EIMD SMDPD IPAD EUICC_SIM EUICC_CLIENT SPEC_DIR WORK_DIR [PCSC_READ_EID]" >&2 && exit 2; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac }
mode=$1 pki=$(abs "$2") eimd=$(abs "$3") smdpd=$(abs "$4") ipad=$(abs "$5") sim=$(abs "$6")
euicc_client=$(abs "$7") spec=$(abs "$8") wd=$(abs "$9")
pcsc_read_eid=${10:+$(abs "${10}")}
case $mode in socket | pcsc) ;; *) echo "usage: $0 socket|pcsc ..." >&2 && exit 2 ;; esac

pids=
my_cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  pids=
}
if [ "$mode" = pcsc ]; then
  [ -n "$pcsc_read_eid" ] || { echo "pcsc mode needs PCSC_READ_EID" >&2 && exit 2; }
  # pcscd with vpcd (or SKIP 77), the machine-wide lock, $port (vpcd), $sim_pid, cleanup();
  # it starts an SGP.26 euicc-sim, replaced below by one with this test's identity.
  set +eu
  . "$(dirname "$0")/../support/pcsc_with_euicc_sim.sh" "$sim" "$pcsc_read_eid" "$spec/sgp26"
  set -eu
  # the PC/SC stack works (reader, card, APDUs) before the card is swapped; pcscd 1.9.9 with vpcd
  # was seen to exit when the virtual card went away within moments of connecting
  "$pcsc_read_eid" --reader "Virtual PCD" --wait 20 --basic >"$work/client.out" 2>&1 ||
    fail "pcsc_read_eid did not reach the SGP.26 card of pcsc_with_euicc_sim.sh"
  grep -q "^EID $expected\$" "$work/client.out" || fail "pcsc_read_eid did not print EID $expected"
  kill -TERM "$sim_pid" 2>/dev/null || true
  { wait "$sim_pid"; } 2>/dev/null || true
  sim_pid=
  trap 'set +e; my_cleanup; cleanup' EXIT
else
  trap 'set +e; my_cleanup' EXIT
fi
trap 'exit 1' INT TERM HUP

rm -rf "$wd"
mkdir -p "$wd"
cd "$wd"
failures=0
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
ok() { echo "ok   $*"; }
die() {
  echo "FAIL $*"
  for f in ipad.err eimd.err smdpd.err sim.err ${work:+"$work/pcscd.log"}; do
    [ -s "$f" ] && { echo "--- $f:" && tail -n 25 "$f"; }
  done
  exit 1
}
start_s=$(date +%s)

# the hook is documented and its values are checked
help=$("$ipad" --help)
for key in connectivity_check connectivity_check_timeout; do
  echo "$help" | grep -q "^  $key = " || fail "ipad --help does not list $key"
done
printf 'card = socket:unix:/nonexistent\nconnectivity_check_timeout = 0\n' >bad.conf
set +e
"$ipad" -c bad.conf --once >/dev/null 2>bad.err
status=$?
set -e
[ "$status" -eq 2 ] && grep -q "bad value '0' for connectivity_check_timeout" bad.err &&
  ok "ipad: connectivity_check_timeout = 0 refused (exit 2)" || fail "bad connectivity_check_timeout: exit $status $(cat bad.err)"

eid=89049032123451234512345678909965
secret='ipad-real-operator-secret-0123456789'
es2_token='ipad-real-es2-token'
"$pki" generate --out pki --sgp26 "$spec/sgp26" --curve nist --eim-id eim-ipad --eim-host localhost \
  --dp-host localhost --eid "$eid" >/dev/null
p=$wd/pki
ca=$p/CERT_CI_SGP26_NIST.pem

cat >smdpd.conf <<CONF
listen = 127.0.0.1
port = 0
address = localhost
tls_certificate = $p/CERT_DPtls_localhost_NIST.pem
tls_key = $p/SK_DPtls_localhost_NIST.pem
ci_certificate = $p/CERT_CI_SGP26_NIST.pem
credentials = $p/CERT_DPauth_NIST.der $p/SK_DPauth_NIST.pem $p/CERT_DPpb_NIST.der $p/SK_DPpb_NIST.pem
database = $wd/smdpd.db
template = ts48 $spec/profiles/TS48V1-A-UNIQUE.der
inventory = ts48 894944999900000100 10
es2_token = $es2_token
threads = 2
log_level = info
CONF
cat >eimd.conf <<CONF
listen = 127.0.0.1
port = 0
eim_id = eim-ipad
tls_certificate = $p/CERT_EIMtls_localhost_NIST.pem
tls_key = $p/SK_EIMtls_localhost_NIST.pem
signing_key = $p/SK_EIMsign_eim-ipad_NIST.pem
signing_certificate = $p/CERT_EIMsign_eim-ipad_NIST.der
ci_certificate = $ca
database = $wd/eimd.db
api_token = ipad operator $secret
smdp_ca = $ca
threads = 2
forward_interval = 1
log_level = info
CONF
chmod 600 eimd.conf

# start NAME BINARY CONF KEY: a server on a port it picks, then again on that port with KEY (its own
# address, which goes into activation codes and the eIM configuration) set to localhost:PORT
start() {
  local name=$1 bin=$2 conf=$3 key=$4 port='' pid
  : >"$name.out"
  "$bin" --config "$conf" >"$name.out" 2>"$name.err" &
  pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n "s/^$name: listening on port \([0-9]*\).*/\1/p" "$name.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$port" ] || die "$name did not start"
  : >"$name.out"
  "$bin" --config "$conf" --set "port=$port" --set "$key=localhost:$port" >"$name.out" 2>"$name.err" &
  pid=$!
  pids="$pids $pid"
  for _ in $(seq 1 100); do
    grep -q "listening on port $port" "$name.out" && break
    sleep 0.1
  done
  grep -q "listening on port $port" "$name.out" || die "$name did not restart on port $port"
  eval "${name}_port=$port ${name}_pid=$pid"
}
smdpd_port='' eimd_port='' smdpd_pid='' eimd_pid=''
start smdpd "$smdpd" smdpd.conf address
start eimd "$eimd" eimd.conf eim_fqdn
eim=https://localhost:$eimd_port
smdp=localhost:$smdpd_port

# the card: euicc-sim with this PKI's eUICC identity, a file store, a unix socket (and vpcd)
sock=$wd/card.sock
sim_args="--state-dir $wd/card --pki $p --eid $eid --listen unix:$sock --test-allow-es10c-profile-management"
if [ "$mode" = pcsc ]; then sim_args="$sim_args --vpcd 127.0.0.1:$port"; fi
# shellcheck disable=SC2086
"$sim" $sim_args >sim.out 2>sim.err &
card_pid=$!
if [ "$mode" = pcsc ]; then sim_pid=$card_pid; else pids="$pids $card_pid"; fi
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || die "euicc-sim did not open $sock"

api() { curl -sS --cacert "$ca" -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' "$@"; }
es2() {
  curl -sS --cacert "$ca" -H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.2.0' \
    -H "Authorization: Bearer $es2_token" \
    -d "{\"header\":{\"functionRequesterIdentifier\":\"ipad-test\",\"functionCallIdentifier\":\"1\"},$2}" \
    "https://$smdp/gsma/rsp2/es2plus/$1"
}
# es10 HEX: one ES10 command over euicc-sim's socket. With the card also in pcscd, a power cycle by
# pcscd (after a PC/SC client leaves) closes the socket client's logical channel: the command is
# refused (6881) before the card runs it, so it is sent again.
es10() {
  local try out
  for try in 1 2 3; do
    if out=$("$euicc_client" "unix:$sock" es10 "$1" 2>es10.err); then
      echo "$out"
      return 0
    fi
    grep -q '6881' es10.err || break
    sleep 0.5
  done
  cat es10.err >&2
  return 1
}
# the ICCID as the card stores it (BCD, nibbles swapped, F padded), upper case
bcd() {
  local s=$1
  [ $((${#s} % 2)) -eq 1 ] && s="${s}F"
  echo "$s" | sed 's/\(.\)\(.\)/\2\1/g' | tr 'a-f' 'A-F'
}
# profiles: GetProfilesInfo (BF2D, tags ICCID and profileState) over the socket, upper-case hex
profiles() { es10 BF2D055C035A9F70 | tr 'a-f' 'A-F'; }
# card_state ICCID: enabled / disabled / absent
card_state() {
  local list
  list=$(profiles)
  case $list in
  *"5A0A$(bcd "$1")9F700101"*) echo enabled ;;
  *"5A0A$(bcd "$1")9F700100"*) echo disabled ;;
  *) echo absent ;;
  esac
}
# operation JSON: op_create JSON -> id; op_wait ID SECONDS -> 0 when done/failed (body in op.json)
op_create() {
  api "$eim/api/v1/operations" -d "{\"eid\":\"$eid\",\"operation\":$1}" >op_create.json
  sed -n 's/.*"id":\([0-9]*\).*/\1/p' op_create.json
}
op_wait() {
  for _ in $(seq 1 $(($2 * 5))); do
    api "$eim/api/v1/operations/$1" >op.json || true
    grep -q '"state":"\(done\|failed\|expired\|cancelled\)"' op.json && return 0
    sleep 0.2
  done
  return 1
}
# order: ES2+ downloadOrder + confirmOrder (released) for this EID -> $order_iccid, $order_mid
order() {
  order_iccid=$(es2 downloadOrder "\"eid\":\"$eid\",\"profileType\":\"ts48\"" |
    sed -n 's/.*"iccid":"\([0-9]*\)".*/\1/p')
  [ -n "$order_iccid" ] || die "ES2+ downloadOrder"
  order_mid=$(es2 confirmOrder "\"iccid\":\"$order_iccid\",\"eid\":\"$eid\",\"releaseFlag\":true" |
    sed -n 's/.*"matchingId":"\([^"]*\)".*/\1/p')
  [ -n "$order_mid" ] || die "ES2+ confirmOrder for $order_iccid"
}
# installed: how many orders smdpd has in state Installed (smdpd --check on its database)
installed() { "$smdpd" --config smdpd.conf --check 2>/dev/null | awk '$1 == "Installed" {n = $2} END {print n + 0}'; }

# with the card in pcscd: first wait until pcscd has powered it up and reads it over PC/SC (the
# power-up resets the card and closes its logical channels: it must not land in the middle of the
# socket setup below)
if [ "$mode" = pcsc ]; then
  "$pcsc_read_eid" --reader "Virtual PCD" --wait 20 --basic >pcsc_eid.out 2>&1 || die "pcsc_read_eid: $(cat pcsc_eid.out)"
  grep -q "^EID $eid\$" pcsc_eid.out && ok "the card answers over PC/SC (EID $eid)" || die "EID over PC/SC: $(cat pcsc_eid.out)"
fi

# register the card, associate it with the eIM
euicc_cert=$(base64 -w0 "$p/CERT_EUICC_${eid}_NIST.der")
eum_cert=$(base64 -w0 "$p/CERT_EUM_NIST.der")
api "$eim/api/v1/devices" -o register.json -w '%{http_code}\n' \
  -d "{\"eid\":\"$eid\",\"label\":\"ipad-real\",\"euiccCertificate\":\"$euicc_cert\",\"eumCertificate\":\"$eum_cert\"}" \
  >register.code
[ "$(cat register.code)" = 201 ] || die "register the card: HTTP $(cat register.code) $(cat register.json)"
api "$eim/api/v1/devices/$eid/eim-configuration" >eimcfg.json
add=$(sed -n 's/.*"addInitialEim":"\([^"]*\)".*/\1/p' eimcfg.json | base64 -d | od -An -v -tx1 | tr -d ' \n')
answer=$(es10 "$add" || true)
case $answer in BF57??A0*) ok "the card has the eIM (AddInitialEim)" ;; *) die "AddInitialEim: $answer" ;; esac
[ "$(card_state 8900000000000000001)" = enabled ] || die "the bootstrap profile is not enabled: $(profiles)"
if [ "$mode" = pcsc ]; then
  card="pcsc:Virtual PCD"
else
  card="socket:unix:$sock"
fi

# connectivity_check: the script records each call; it fails for the ICCIDs listed in no-attach
: >no-attach
: >checks.log
cat >check.sh <<'SH'
#!/bin/sh
# connectivity_check of this test: log the call, fail for the ICCIDs in no-attach
echo "${IPAD_EVENT:-?} ${IPAD_ICCID:-none}" >>"$(dirname "$0")/checks.log"
if [ -n "${IPAD_ICCID:-}" ] && grep -qx "$IPAD_ICCID" "$(dirname "$0")/no-attach"; then
  echo "check.sh: profile $IPAD_ICCID cannot attach" >&2
  exit 1
fi
exit 0
SH
chmod +x check.sh

# ipad_conf FEATURES [EXTRA...]: the config for the next ipad run
ipad_conf() {
  {
    echo "card = $card"
    echo "ca_file = $ca"
    echo "smdp_ca_file = $ca"
    echo "state_file = $wd/ipad.state"
    echo "ipa_features = $1"
    echo "backoff_base = 1"
    echo "backoff_max = 2"
    echo "http_timeout_ms = 20000"
    echo "log_level = info"
    shift
    for line in "$@"; do echo "$line"; done
  } >ipad.conf
}
ipad_once() {
  : >ipad.err
  if timeout 60 "$ipad" -c ipad.conf --once >ipad.out 2>ipad.err; then
    ok "$1: ipad --once exit 0"
  else
    fail "$1: ipad --once exit $?"
    tail -n 15 ipad.err
  fi
}
# notifications ipad handed to eimd for smdpd (HandleNotification, ePRAndNotifications), and how many
# of them eimd forwarded to smdpd (ES9+ handleNotification)
queued() { grep -c "notification [0-9]* queued for $smdp" eimd.err || true; }
forwarded() { grep -c "notification [0-9]* forwarded to $smdp" eimd.err || true; }

# download NAME FEATURES: an order, a download operation, ipad --once; the checks
download() {
  local name=$1 features=$2 iccid mid op relays_before relays_after installed_before
  order
  iccid=$order_iccid mid=$order_mid
  op=$(op_create "{\"download\":{\"activationCode\":\"1\$$smdp\$$mid\"}}")
  [ -n "$op" ] || die "$name: create the download operation: $(cat op_create.json)"
  relays_before=$(grep -c 'ESipa .* relayed to ' eimd.err || true)
  installed_before=$(installed)
  ipad_conf "$features"
  ipad_once "$name download"
  cp ipad.err "ipad-$name.err"
  [ "$(card_state "$iccid")" = disabled ] && ok "$name: profile $iccid installed on the card" ||
    fail "$name: profile $iccid on the card: $(card_state "$iccid") ($(profiles))"
  if op_wait "$op" 10 && grep -q '"state":"done"' op.json &&
    grep -q "\"result\":{\"iccid\":\"$iccid\",\"success\":true" op.json; then
    ok "$name: eimd operation $op done, PIR success for $iccid"
  else
    fail "$name: eimd operation $op: $(cat op.json)"
  fi
  # the PIR reached the SM-DP+: one more order Installed
  for _ in $(seq 1 25); do [ "$(installed)" -gt "$installed_before" ] && break; sleep 0.2; done
  [ "$(installed)" -eq $((installed_before + 1)) ] && ok "$name: order $iccid Installed at smdpd (smdpd --check)" ||
    fail "$name: orders Installed at smdpd: $installed_before before, $(installed) now"
  relays_after=$(grep -c 'ESipa .* relayed to ' eimd.err || true)
  if [ "$features" = direct ]; then
    grep -q "ES9+ session to $smdp (direct download)" ipad.err && ok "$name: ipad talked ES9+ to smdpd" ||
      fail "$name: no direct ES9+ session in ipad's log"
    [ "$relays_after" -eq "$relays_before" ] && ok "$name: eimd relayed no ES9+" ||
      fail "$name: eimd relayed ES9+ ($relays_before -> $relays_after)"
  else
    grep -q "ES9+ session" ipad.err && fail "$name: ipad opened an ES9+ session itself"
    [ "$relays_after" -ge $((relays_before + 3)) ] && ok "$name: eimd relayed the ES9+ calls to smdpd" ||
      fail "$name: eimd relayed $((relays_after - relays_before)) ES9+ call(s)"
  fi
  eval "${name}_iccid=$iccid"
}

download indirect indirect
download direct direct
# the PIR of the indirect download went through eimd, which forwarded it to smdpd
grep -q "PIR for order $indirect_iccid: installed" smdpd.err && ok "smdpd took the PIR of $indirect_iccid" ||
  fail "smdpd did not log the PIR of $indirect_iccid"
grep -q "notification [0-9]* forwarded to $smdp" eimd.err && ok "eimd forwarded the indirect download's PIR" ||
  fail "eimd forwarded no notification to $smdp"
if [ "$mode" = pcsc ]; then
  grep -q "card pcsc:Virtual PCD open" ipad-indirect.err && grep -q "card pcsc:Virtual PCD open" ipad-direct.err &&
    ok "ipad's card was on PC/SC" || fail "ipad did not use PC/SC"
fi

# 3. enable with rollbackFlag, and the new profile attaches: ipad reports over it
queued_before=$(queued)
op=$(op_create "{\"psmo\":[{\"enable\":{\"iccid\":\"$indirect_iccid\",\"rollback\":true}}]}")
ipad_conf indirect "connectivity_check = $wd/check.sh"
: >checks.log
ipad_once "enable with rollback"
cp ipad.err ipad-enable.err
if op_wait "$op" 10 && grep -q '"state":"done"' op.json; then
  ok "enable: eimd operation $op done"
else
  fail "enable: eimd operation $op: $(cat op.json)"
fi
grep -q '"results":\[{"enable":"ok"}\]' op.json && ok "enable: result enable ok, no rollback" ||
  fail "enable: result $(cat op.json)"
[ "$(card_state "$indirect_iccid")" = enabled ] && [ "$(card_state 8900000000000000001)" = disabled ] &&
  ok "enable: the card runs $indirect_iccid" || fail "enable: card profiles $(profiles)"
grep -q "ProfileRollback" ipad.err && fail "enable: ipad rolled back"
grep -qx "card-reset $indirect_iccid" checks.log && ok "enable: connectivity_check ran for $indirect_iccid after the switch" ||
  fail "enable: connectivity checks: $(cat checks.log)"
# the result went out after the switch, over a new connection (the check closes the old one)
check_line=$(grep -n "connectivity check (card-reset, profile $indirect_iccid): attached" ipad.err | cut -d: -f1 | head -1)
session_line=$(grep -n "procedure [0-9]*: ESipa session" ipad.err | cut -d: -f1 | tail -1)
[ -n "$check_line" ] && [ -n "$session_line" ] && [ "$session_line" -gt "$check_line" ] &&
  ok "enable: ipad reported over the new profile (new ESipa session after the check)" ||
  fail "enable: no ESipa session after the switch ($check_line, $session_line)"
[ "$(queued)" -gt "$queued_before" ] && ok "enable: ipad handed the profiles' notifications to eimd for smdpd" ||
  fail "enable: eimd got no notification for smdpd"

# 4. enable with rollbackFlag, and the new profile cannot attach: ipad (daemon) rolls back
op=$(op_create "{\"psmo\":[{\"enable\":{\"iccid\":\"$direct_iccid\",\"rollback\":true}}]}")
echo "$direct_iccid" >no-attach
ipad_conf indirect "connectivity_check = $wd/check.sh" "poll_interval = 3600"
: >checks.log
: >ipad.err
"$ipad" -c ipad.conf >ipad.out 2>ipad.err &
ipad_pid=$!
pids="$pids $ipad_pid"
if op_wait "$op" 30 && grep -q '"state":"done"' op.json; then
  ok "rollback: eimd operation $op done"
else
  fail "rollback: eimd operation $op: $(cat op.json)"
fi
# the rest of the cycle (acknowledgements, notifications) before the stop
for _ in $(seq 1 100); do grep -q 'idle: next poll in' ipad.err && break; sleep 0.2; done
grep -q 'idle: next poll in' ipad.err || fail "rollback: ipad did not go idle after the rollback"
kill -TERM "$ipad_pid"
if wait "$ipad_pid"; then ok "rollback: ipad stopped on SIGTERM, exit 0"; else fail "rollback: ipad exit $?"; fi
cp ipad.err ipad-rollback.err
grep -q '"results":\[{"enable":"ok"},{"rollback":"ok"}\]' op.json && ok "rollback: eimd's result shows the rollback" ||
  fail "rollback: result $(cat op.json)"
grep -q "ProfileRollback" ipad.err && ok "rollback: ipad ran ProfileRollback" || fail "rollback: no ProfileRollback in ipad's log"
[ "$(card_state "$indirect_iccid")" = enabled ] && [ "$(card_state "$direct_iccid")" = disabled ] &&
  ok "rollback: the card runs $indirect_iccid again" || fail "rollback: card profiles $(profiles)"
grep -qx "card-reset $direct_iccid" checks.log && grep -qx "card-reset $indirect_iccid" checks.log &&
  ok "rollback: connectivity_check failed with $direct_iccid, passed with $indirect_iccid" ||
  fail "rollback: connectivity checks: $(cat checks.log)"

# 4b. the same with ipad --once (a cron-style device): the first run cannot report and exits 1,
# the next one finds the profile still unable to attach at start and rolls back
op=$(op_create "{\"psmo\":[{\"enable\":{\"iccid\":\"$direct_iccid\",\"rollback\":true}}]}")
ipad_conf indirect "connectivity_check = $wd/check.sh"
: >checks.log
set +e
timeout 60 "$ipad" -c ipad.conf --once >ipad.out 2>ipad.err
status=$?
set -e
cp ipad.err ipad-once1.err
[ "$status" -eq 1 ] && grep -q "poll cycle failed: .*no connectivity: profile $direct_iccid cannot attach" ipad.err &&
  ok "rollback --once: the first run cannot report (exit 1, says why)" ||
  fail "rollback --once: first run exit $status: $(tail -n 3 ipad.err)"
ipad_once "rollback --once, second run"
cp ipad.err ipad-once2.err
grep -qx "start $direct_iccid" checks.log && grep -q "ProfileRollback" ipad.err &&
  ok "rollback --once: the check failed at start, ipad rolled back" || fail "rollback --once: $(cat checks.log)"
if op_wait "$op" 10 && grep -q '"results":\[{"enable":"ok"},{"rollback":"ok"}\]' op.json; then
  ok "rollback --once: eimd's result shows the rollback"
else
  fail "rollback --once: operation $op: $(cat op.json)"
fi
[ "$(card_state "$indirect_iccid")" = enabled ] && [ "$(card_state "$direct_iccid")" = disabled ] &&
  ok "rollback --once: the card runs $indirect_iccid again" || fail "rollback --once: card profiles $(profiles)"

# 5. a backlog of notifications larger than the IPA core's default message cap (8 KiB; each signed
# notification carries CERT.EUICC and CERT.EUM): local profile switches (ES10c, the simulator's
# test switch) while ipad does not run, then ipad --once delivers them all and the card's list is
# empty (before ipad raised the cap, every cycle failed at RetrieveNotificationsList, for ever)
queued_before=$(queued)
for iccid in $direct_iccid $indirect_iccid $direct_iccid $indirect_iccid; do
  es10 "BF3111A00C5A0A$(bcd "$iccid")810100" | grep -qi '^BF3103800100$' || die "ES10c EnableProfile $iccid"
done
backlog=$(es10 BF2B00)
[ $((${#backlog} / 2)) -gt 8192 ] && ok "backlog: $((${#backlog} / 2)) bytes of notifications on the card" ||
  fail "backlog: only $((${#backlog} / 2)) bytes of notifications"
ipad_conf indirect
ipad_once "backlog"
cp ipad.err ipad-backlog.err
case $(es10 BF2B00 | tr 'a-f' 'A-F') in BF2B02A000) ok "backlog: delivered, the card holds no notification" ;;
*) fail "backlog: the card still holds notifications" ;; esac
[ "$(queued)" -ge $((queued_before + 8)) ] && ok "backlog: eimd got the 8 notifications for smdpd" ||
  fail "backlog: eimd got $(($(queued) - queued_before)) notification(s) for smdpd"

# 6. the ESipa JSON binding (POST /gsma/rsp2/esipa/<function>) end to end: a PSMO (signed package,
# eUICC-signed result verified by eimd) and eUICC data
op=$(op_create '{"psmo":[{"listProfileInfo":{}}]}')
op2=$(op_create '{"ipaEuiccData":{"tags":["defaultSmdpAddress","euiccInfo1"]}}')
[ -n "$op" ] && [ -n "$op2" ] || die "json binding: create the operations: $(cat op_create.json)"
json_before=$(grep -c 'ESipa json ' eimd.err || true)
ipad_conf indirect "binding = json"
ipad_once "json binding"
op_wait "$op" 20 && grep -q '"state":"done"' op.json && grep -q '"listProfileInfo"' op.json &&
  ok "json binding: listProfileInfo done, result verified" || fail "json binding: listProfileInfo: $(cat op.json)"
op_wait "$op2" 20 && grep -q '"state":"done"' op.json && grep -q 'defaultSmdpAddress' op.json &&
  ok "json binding: IpaEuiccData done" || fail "json binding: IpaEuiccData: $(cat op.json)"
[ "$(grep -c 'ESipa json ' eimd.err || true)" -gt "$json_before" ] &&
  ok "json binding: eimd served them on /gsma/rsp2/esipa/<function>" || fail "json binding: eimd logged no JSON-binding request"

# every notification eimd took for smdpd reached it
for _ in $(seq 1 50); do [ "$(forwarded)" -eq "$(queued)" ] && break; sleep 0.2; done
[ "$(forwarded)" -eq "$(queued)" ] && ok "eimd forwarded all $(queued) notifications to smdpd" ||
  fail "eimd forwarded $(forwarded) of $(queued) notifications to smdpd"

# clean stops (and, in a sanitizer build, no report from any process)
for name in eimd smdpd card; do
  eval "pid=\$${name}_pid"
  kill -TERM "$pid"
  if wait "$pid"; then ok "$name: SIGTERM, exit 0"; else fail "$name: exit status $? after SIGTERM"; fi
done
sim_pid=
if grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' ./*.err ./*.out 2>/dev/null; then
  fail "sanitizer reports in the logs above"
fi
echo "elapsed $(($(date +%s) - start_s)) s"
echo "$failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
exit 0
