#!/bin/sh
# sgp32-fleet end to end against a real eimd and smdpd on 127.0.0.1 (docs/fleet.md):
#  - --help lists every option; usage and setup errors exit 2 / 3 with a message saying what to do;
#  - a first fleet of 4 devices registers (certificates, bulk import), gets AddInitialEim from the
#    eIM's REST eim-configuration and settles (--until-idle); the report shows each card with its
#    bootstrap profile and the eIM;
#  - a second fleet with the same EIDs (already registered: 409 one by one; same derived keys, so
#    the eIM's stored certificates still verify) runs in the background with --no-attach 3, while
#    the test queues at the eIM: a download (ES2+ order at smdpd, activation code) for devices 0
#    (indirect, through the eIM), 2 and 3 (direct, ES9+ to smdpd), listProfileInfo for device 1,
#    then enable-with-rollback of each new profile; device 3's new profile cannot attach, so its
#    IPA rolls back by itself and the eIM gets the rollback result;
#  - an eCO adds a second eimd (devices registered there from --write-import) and deletes the
#    first; the devices follow it, and a listProfileInfo from the second eIM completes;
#  - the final report (SIGTERM, exit 0) says what each card holds.
# usage: check_fleet.sh SGP32_FLEET SGP32_PKI EIMD SMDPD SPEC_DIR WORK_DIR
set -eu
fleet=$1 pki=$2 eimd=$3 smdpd=$4 spec=$5 work=$6
rm -rf "$work"
mkdir -p "$work"
cd "$work"
pids=
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }
command -v python3 >/dev/null || { echo "python3 is needed to read the JSON report"; exit 1; }

# --help and usage errors
"$fleet" --help >help.txt || fail "--help exit status"
for opt in --pki --curve --devices --first-eid --eid --bootstrap-iccid --default-smdp --register --token-file \
  --token --register-batch --write-import --ca --eim-address --binding --http-timeout-ms --threads \
  --indirect-fraction --extra-features --poll-interval --backoff-base --backoff-max --rollback-after --no-attach \
  --report --report-interval --until-idle --max-seconds --idle-seconds --progress --log-level; do
  grep -q -- "$opt" help.txt || fail "--help does not document $opt"
done
ok "--help documents every option"
set +e
"$fleet" --devices 2 >out.txt 2>&1
[ $? -eq 2 ] && grep -q -- '--pki DIR is required' out.txt && ok "no --pki: exit 2" || fail "no --pki: $(cat out.txt)"
set -e

"$pki" generate --out pki --sgp26 "$spec/sgp26" --curve nist --eim-id eim-fleet --eim-host localhost \
  --dp-host localhost >/dev/null
"$pki" generate --out pki2 --sgp26 "$spec/sgp26" --curve nist --eim-id eim-two --eim-host localhost >/dev/null
ca=$work/pki/CERT_CI_SGP26_NIST.pem
secret=fleet-operator-secret-0123456789
echo "$secret" >token
set +e
"$fleet" --pki pki --first-eid 890011110000000000000000000000 --register https://localhost:1 --token-file token \
  >out.txt 2>&1
[ $? -eq 3 ] && grep -q 'outside the range' out.txt && ok "EID outside the EUM's range: exit 3" ||
  fail "bad --first-eid: $(cat out.txt)"
set -e

# start NAME BINARY CONF: a server on a port it picks, then again on that port with its own address
# (the address goes into activation codes and eIM configurations, so it must carry the port)
start() {
  name=$1 bin=$2 conf=$3 key=$4
  : >"$name.out"
  "$bin" --config "$conf" >"$name.out" 2>"$name.err" &
  p=$!
  port=
  for _ in $(seq 1 100); do
    port=$(sed -n "s/^$name: listening on port \([0-9]*\).*/\1/p" "$name.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "$name did not start"; cat "$name.err"; exit 1; }
  kill "$p"
  wait "$p" || true
  : >"$name.out"
  "$bin" --config "$conf" --set "port=$port" --set "$key=localhost:$port" >"$name.out" 2>"$name.err" &
  pids="$pids $!"
  for _ in $(seq 1 100); do
    grep -q "listening on port $port" "$name.out" && break
    sleep 0.1
  done
  grep -q "listening on port $port" "$name.out" || { echo "$name did not restart"; cat "$name.err"; exit 1; }
  eval "${name}_port=$port"
}

cat >smdpd.conf <<CONF
listen = 127.0.0.1
port = 0
address = localhost
tls_certificate = pki/CERT_DPtls_localhost_NIST.pem
tls_key = pki/SK_DPtls_localhost_NIST.pem
ci_certificate = pki/CERT_CI_SGP26_NIST.pem
credentials = pki/CERT_DPauth_NIST.der pki/SK_DPauth_NIST.pem pki/CERT_DPpb_NIST.der pki/SK_DPpb_NIST.pem
database = smdpd.db
template = ts48 $spec/profiles/TS48V1-A-UNIQUE.der
inventory = ts48 894944999900000000 10
es2_token = fleet-es2-token
threads = 2
log_level = warn
CONF
for n in 1 2; do
  dir=pki
  id=eim-fleet
  [ $n -eq 2 ] && dir=pki2 id=eim-two
  cat >eimd$n.conf <<CONF
listen = 127.0.0.1
port = 0
eim_id = $id
tls_certificate = $dir/CERT_EIMtls_localhost_NIST.pem
tls_key = $dir/SK_EIMtls_localhost_NIST.pem
signing_key = $dir/SK_EIMsign_${id}_NIST.pem
signing_certificate = $dir/CERT_EIMsign_${id}_NIST.der
ci_certificate = pki/CERT_CI_SGP26_NIST.pem
database = eimd$n.db
api_token = fleet operator $secret
smdp_ca = pki/CERT_CI_SGP26_NIST.pem
threads = 4
forward_interval = 1
log_level = warn
CONF
  chmod 600 eimd$n.conf
done
start smdpd "$smdpd" smdpd.conf address
start eimd "$eimd" eimd1.conf eim_fqdn
eim1=https://localhost:$eimd_port
smdp=localhost:$smdpd_port

api() { curl -sS --cacert "$ca" -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' "$@"; }
es2() {
  curl -sS --cacert "$ca" -H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.2.0' \
    -H 'Authorization: Bearer fleet-es2-token' \
    -d "{\"header\":{\"functionRequesterIdentifier\":\"test\",\"functionCallIdentifier\":\"1\"},$2}" \
    "https://$smdp/gsma/rsp2/es2plus/$1"
}
# json FILE EXPR: a Python expression over the parsed document d
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# 1. a fleet that registers, associates and settles
common="--pki pki --devices 4 --register $eim1 --token-file token --poll-interval 0.5 --idle-seconds 1.5 \
--backoff-base 1 --progress 0"
if timeout 60 "$fleet" $common --until-idle --max-seconds 40 --report r1.json --write-import import.json \
  >fleet1.out 2>fleet1.err; then
  ok "first fleet settled (--until-idle)"
else
  fail "first fleet: exit $?"
  cat fleet1.err
fi
[ "$(json r1.json 'd["final"] and d["totals"]["allSettled"] and d["totals"]["devices"]')" = 4 ] &&
  ok "report: 4 devices, all settled" || fail "report r1: $(head -2 r1.json)"
[ "$(json r1.json 'sum(1 for x in d["devices"] if x["associated"] and x["enabledIccid"] == "8900000000000000001"
  and [e["eimId"] for e in x["eims"]] == ["eim-fleet"] and x["eims"][0]["eimFqdn"] == "localhost:'"$eimd_port"'")')" = 4 ] &&
  ok "every card: bootstrap profile enabled, eim-fleet associated" || fail "cards: $(sed -n 4p r1.json)"
[ "$(json import.json 'len(d["devices"])')" = 4 ] && ok "--write-import wrote 4 devices" || fail "import.json"
api "$eim1/api/v1/devices" >devices.json
[ "$(json devices.json 'sum(1 for x in d["devices"] if x["state"] == "active" and x["hasCertificate"])')" = 4 ] &&
  ok "the eIM has 4 active devices with certificates" || fail "eIM devices: $(cat devices.json)"
eids=$(json r1.json '" ".join(x["eid"] for x in d["devices"])')
set -- $eids
e0=$1 e1=$2 e2=$3 e3=$4

# 2. the same EIDs again, in the background, device 3 unable to attach with a new profile
"$fleet" $common --report r.json --no-attach 3 >fleet2.out 2>fleet2.err &
fleet_pid=$!
pids="$pids $fleet_pid"
# wait_settled: the report says every device polled without work for the idle time
wait_settled() {
  for _ in $(seq 1 300); do
    [ -f r.json ] && grep -q '"allSettled":true' r.json && return 0
    sleep 0.2
  done
  fail "the fleet did not settle: $(sed -n 2p r.json)"
}
# wait_operations: nothing queued or delivered at the eIM
wait_operations() {
  for _ in $(seq 1 300); do
    q=$(api "$1/api/v1/operations?state=queued")
    d=$(api "$1/api/v1/operations?state=delivered")
    case "$q$d" in *'"operations":[],'*'"operations":[],'*) return 0 ;; esac
    sleep 0.2
  done
  fail "operations still open at $1: $q $d"
}
wait_settled
grep -q '4 devices registered .*(4 were registered already)' fleet2.err &&
  ok "second fleet: already registered devices accepted" || fail "second fleet: $(cat fleet2.err)"

# downloads: an ES2+ order per device, then a download operation with its activation code
: >orders
for eid in $e0 $e2 $e3; do
  iccid=$(es2 downloadOrder "\"eid\":\"$eid\",\"profileType\":\"ts48\"" | sed -n 's/.*"iccid":"\([0-9]*\)".*/\1/p')
  mid=$(es2 confirmOrder "\"iccid\":\"$iccid\",\"eid\":\"$eid\",\"releaseFlag\":true" |
    sed -n 's/.*"matchingId":"\([^"]*\)".*/\1/p')
  [ -n "$iccid" ] && [ -n "$mid" ] || fail "ES2+ order for $eid"
  echo "$eid $iccid" >>orders
  api "$eim1/api/v1/operations" \
    -d "{\"eid\":\"$eid\",\"operation\":{\"download\":{\"activationCode\":\"1\$$smdp\$$mid\"}}}" >/dev/null
done
api "$eim1/api/v1/operations" -d "{\"eid\":\"$e1\",\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" >/dev/null
kill -USR1 "$fleet_pid"
wait_operations "$eim1"
api "$eim1/api/v1/operations?state=done" >done.json
[ "$(json done.json 'len(d["operations"])')" = 4 ] && ok "3 downloads and a listProfileInfo done" ||
  fail "operations: $(api "$eim1/api/v1/operations")"

# enable each new profile with rollback; device 3 cannot attach with it
while read -r eid iccid; do
  api "$eim1/api/v1/operations" \
    -d "{\"eid\":\"$eid\",\"operation\":{\"psmo\":[{\"enable\":{\"iccid\":\"$iccid\",\"rollback\":true}}]}}" >/dev/null
done <orders
kill -USR1 "$fleet_pid"
wait_operations "$eim1"
api "$eim1/api/v1/operations?eid=$e3&state=done" >op3.json
json op3.json 'd["operations"][-1]["result"]["results"]' | grep -q "'rollback': 'ok'" &&
  ok "the eIM got device 3's rollback result" || fail "device 3 operation: $(cat op3.json)"

# eCO: add the second eIM (devices registered there from --write-import), delete the first
start eimd "$eimd" eimd2.conf eim_fqdn
eim2=https://localhost:$eimd_port
api "$eim2/api/v1/devices/import" -d @import.json | grep -q '"imported":4' && ok "--write-import body imported" ||
  fail "import into the second eIM"
key=$(base64 -w0 pki2/CERT_EIMsign_eim-two_NIST.der)
anchor=$(base64 -w0 pki/CERT_CI_SGP26_NIST.der)
list="\"$e0\",\"$e1\",\"$e2\",\"$e3\""
api "$eim1/api/v1/operations" -d "{\"eids\":[$list],\"operation\":{\"eco\":[{\"addEim\":{\"eimId\":\"eim-two\",
  \"eimFqdn\":\"localhost:$eimd_port\",\"counterValue\":0,\"eimPublicKey\":\"$key\",\"trustedTls\":\"$anchor\",
  \"protocols\":[\"retrieveHttps\"],\"indirectProfileDownload\":true}},{\"deleteEim\":{\"eimId\":\"eim-fleet\"}}]}}" \
  >/dev/null
kill -USR1 "$fleet_pid"
wait_operations "$eim1"
api "$eim2/api/v1/operations" -d "{\"eids\":[$list],\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" >/dev/null
kill -USR1 "$fleet_pid"
wait_operations "$eim2"
api "$eim2/api/v1/operations?state=done" >done2.json
[ "$(json done2.json 'len(d["operations"])')" = 4 ] && ok "the second eIM manages the 4 devices" ||
  fail "second eIM: $(api "$eim2/api/v1/operations")"

kill -USR1 "$fleet_pid"
sleep 0.5 # the report is rewritten at once after SIGUSR1, with every device unsettled
wait_settled
kill -TERM "$fleet_pid"
if wait "$fleet_pid"; then ok "SIGTERM: exit 0"; else fail "fleet exit status $?"; fi
grep -q '"final":true' r.json || fail "the final report is not marked final"

# what the cards say
i0=$(sed -n 1p orders | cut -d' ' -f2) i2=$(sed -n 2p orders | cut -d' ' -f2) i3=$(sed -n 3p orders | cut -d' ' -f2)
check() { # NAME PYTHON-EXPRESSION (over d, and D = devices by index)
  if [ "$(python3 -c "import json; d=json.load(open('r.json')); D=d['devices']; print(bool($2))")" = True ]; then
    ok "$1"
  else
    fail "$1"
  fi
}
check "device 0 (indirect) runs its new profile" \
  "D[0]['download'] == 'indirect' and D[0]['enabledIccid'] == '$i0' and len(D[0]['profiles']) == 2"
check "device 1 kept only its bootstrap profile" \
  "D[1]['enabledIccid'] == '8900000000000000001' and len(D[1]['profiles']) == 1"
check "device 2 (direct) runs its new profile" \
  "D[2]['download'] == 'direct' and D[2]['enabledIccid'] == '$i2' and D[2]['downloadsInstalled'] == 1"
check "device 2 downloaded from the SM-DP+ itself (an ES9+ session), device 0 through the eIM" \
  "D[2]['es9Sessions'] >= 1 and D[0]['es9Sessions'] == 0"
check "device 3 rolled back to its bootstrap profile" \
  "D[3]['noAttach'] and D[3]['enabledIccid'] == '8900000000000000001' and D[3]['rollbacks'] == 1
   and D[3]['attachFailures'] >= 1 and {p['iccid']: p['state'] for p in D[3]['profiles']}.get('$i3') == 'disabled'"
check "every card now lists only the second eIM" \
  "all([e['eimId'] for e in x['eims']] == ['eim-two'] for x in D)"
check "totals: 3 downloads, 1 rollback, bytes on the wire" \
  "d['totals']['downloadsInstalled'] == 3 and d['totals']['rollbacks'] == 1 and d['totals']['bytesSent'] > 0
   and d['totals']['bytesReceived'] > d['totals']['bytesSent']"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
