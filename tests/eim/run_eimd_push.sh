#!/bin/sh
# TransferEimPackage end to end: eimd pushes to ipad's push listener (mutual TLS) and the card runs
# the package without ipad ever polling for it.
#
# Two PKIs from sgp32-pki: the SGP.26 test CI issues the eIM's TLS certificate (serverAuth and
# clientAuth: eimd's server certificate and its push client certificate); a second, separate CI
# (the "device" PKI) issues the certificate of ipad's listener, so each side trusts exactly the
# other's CA: eimd push_ca = the device CI, ipad push_client_ca = the SGP.26 CI. A third CI makes a
# rogue client certificate.
#
# ipad (card: euicc-sim) boots, polls once, and then would not poll again for a day; the device is
# registered with its pushAddress, operations are created through the REST API, and they must be
# done within seconds: only the push explains it. Then: eUICC data answered inside the push
# (IpaCapabilities announces ipaInjectHttps), a pusher without a client certificate or with one
# from another CA is refused in the TLS handshake, a valid client with a wrong request gets HTTP
# errors; a push while ipad is down fails and backs off, and the poll at ipad's restart gets the
# same package; both daemons stop cleanly.
# usage: run_eimd_push.sh SGP32_PKI EIMD SPEC_DIR WORK_DIR IPAD EUICC_SIM EUICC_CLIENT
set -eu
pki=$1 eimd=$2 spec=$3 work=$4 ipad=$5 sim=$6 client=$7
rm -rf "$work"
mkdir -p "$work"
pid= sim_pid= ipad_pid=
cleanup() {
  [ -n "$ipad_pid" ] && kill "$ipad_pid" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  true
}
trap cleanup EXIT INT TERM

failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

card_eid=89049032123451234512345678909965
secret=push-operator-secret-0123456789
"$pki" generate --out "$work/pki" --sgp26 "$spec/sgp26" --curve nist --eim-id eim-push --eim-host localhost \
  --eid "$card_eid" >/dev/null
"$pki" generate --out "$work/device" --curve nist --eim-id device-pki --eim-host localhost >/dev/null
"$pki" generate --out "$work/rogue" --curve nist --eim-id rogue --eim-host localhost >/dev/null
p=$work/pki
ci=$p/CERT_CI_SGP26_NIST.pem
device_ci=$work/device/CERT_CI_NIST.pem

# the help of both daemons names the push keys
for key in push_interval push_client_certificate push_client_key push_ca push_timeout push_redeliver push_batch \
  push_parallel; do
  "$eimd" --help | grep -q "^  $key " || fail "eimd --help does not list $key"
done
for key in push_listen push_tls_certificate push_tls_key push_client_ca push_timeout; do
  "$ipad" --help | grep -q "  $key = " || fail "ipad --help does not list $key"
done
ok "--help of eimd and ipad lists the push keys"

cat >"$work/eimd.conf" <<CONF
listen = 127.0.0.1
eim_fqdn = localhost
port = 0
eim_id = eim-push
tls_certificate = $p/CERT_EIMtls_localhost_NIST.pem
tls_key = $p/SK_EIMtls_localhost_NIST.pem
signing_key = $p/SK_EIMsign_eim-push_NIST.pem
signing_certificate = $p/CERT_EIMsign_eim-push_NIST.der
ci_certificate = $ci
database = $work/eimd.db
api_token = ops operator $secret
threads = 2
push_interval = 2
push_ca = $device_ci
push_timeout = 20
log_level = info
CONF
chmod 600 "$work/eimd.conf"
: >"$work/eimd.out"
"$eimd" --config "$work/eimd.conf" >>"$work/eimd.out" 2>"$work/eimd.err" &
pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^eimd: listening on port \([0-9]*\).*/\1/p' "$work/eimd.out" || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "eimd did not start"; cat "$work/eimd.err"; exit 1; }
base=https://localhost:$port
auth="Authorization: Bearer $secret"
jtype="Content-Type: application/json"

# http NAME EXPECTED_STATUS CURL-ARGS...: body in $work/body
http() {
  name=$1 want=$2
  shift 2
  got=$(curl -sS --cacert "$ci" -o "$work/body" -w '%{http_code}' "$@" || echo 000)
  if [ "$got" = "$want" ]; then
    ok "$name: HTTP $got"
  else
    fail "$name: HTTP $got (expected $want)"
    head -c 600 "$work/body"
    echo
  fi
}

# the card, registered and associated with this eIM
"$sim" --state-dir "$work/card" --pki "$p" --eid "$card_eid" --listen "unix:$work/card.sock" \
  >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 1 100); do [ -S "$work/card.sock" ] && break; sleep 0.1; done
card_cert=$(base64 -w0 "$p/CERT_EUICC_${card_eid}_NIST.der")
eum=$(base64 -w0 "$p/CERT_EUM_NIST.der")
http "register the card" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$card_eid\",\"euiccCertificate\":\"$card_cert\",\"eumCertificate\":\"$eum\"}" \
  "$base/api/v1/devices"
grep -q '"pushAddress":null' "$work/body" || fail "a new device has a push address: $(cat "$work/body")"
http "eIM configuration" 200 -H "$auth" "$base/api/v1/devices/$card_eid/eim-configuration"
cfg=$(sed -n 's/.*"eimConfigurationData":"\([^"]*\)".*/\1/p' "$work/body" | base64 -d | od -An -v -tx1 | tr -d ' \n')
case $cfg in *870205a0*) ok "EimConfigurationData announces eimInjectHttps" ;; *) fail "eimSupportedProtocol: $cfg" ;; esac
add=$(sed -n 's/.*"addInitialEim":"\([^"]*\)".*/\1/p' "$work/body" | base64 -d | od -An -v -tx1 | tr -d ' \n')
answer=$("$client" "unix:$work/card.sock" es10 "$add" || true)
case $answer in BF57??A0*) ok "AddInitialEim on the card" ;; *) fail "AddInitialEim: $answer" ;; esac

# ipad: polls at start, then not for a day; takes pushes on a free port
cat >"$work/ipad.conf" <<IPAD
card = socket:unix:$work/card.sock
eim_address = localhost:$port
ca_file = $ci
state_file = $work/ipad.state
poll_interval = 86400
push_listen = 127.0.0.1:0
push_tls_certificate = $work/device/CERT_EIMtls_localhost_NIST.pem
push_tls_key = $work/device/SK_EIMtls_localhost_NIST.pem
push_client_ca = $ci
push_timeout = 15
log_level = info
IPAD
: >"$work/ipad.out"
"$ipad" -c "$work/ipad.conf" >>"$work/ipad.out" 2>"$work/ipad.err" &
ipad_pid=$!
pport=
for _ in $(seq 1 100); do
  pport=$(sed -n 's/^ipad: push listener on port \([0-9]*\).*/\1/p' "$work/ipad.out" || true)
  [ -n "$pport" ] && break
  sleep 0.1
done
[ -n "$pport" ] || { echo "ipad's push listener did not start"; cat "$work/ipad.err"; exit 1; }
ok "ipad push listener on port $pport"
for _ in $(seq 1 100); do grep -q 'idle: next poll in' "$work/ipad.err" && break; sleep 0.1; done
grep -q 'idle: next poll in' "$work/ipad.err" || fail "ipad did not finish its first poll"
polls=$(grep -c 'ESipa asn1 getEimPackage' "$work/eimd.err" || true)

http "push address: malformed" 400 -H "$auth" -H "$jtype" -d '{"pushAddress":"https://localhost/x"}' \
  "$base/api/v1/devices/$card_eid/push-address"
http "push address" 200 -H "$auth" -H "$jtype" -d "{\"pushAddress\":\"localhost:$pport\"}" \
  "$base/api/v1/devices/$card_eid/push-address"
grep -q "\"pushAddress\":\"localhost:$pport\"" "$work/body" || fail "push address not shown: $(cat "$work/body")"

# wait_done OP SECONDS: the operation reaches done (or failed)
wait_done() {
  for _ in $(seq 1 $(($2 * 10))); do
    curl -sS --cacert "$ci" -H "$auth" -o "$work/op" "$base/api/v1/operations/$1" || true
    grep -q '"state":"\(done\|failed\)"' "$work/op" && return 0
    sleep 0.1
  done
  return 1
}

http "create a PSMO" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$card_eid\",\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" "$base/api/v1/operations"
op=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
if wait_done "$op" 20 && grep -q '"state":"done"' "$work/op"; then
  ok "the PSMO is done without a poll"
else
  fail "PSMO $op: $(cat "$work/op")"
fi
grep -q '"listProfileInfo"' "$work/op" || fail "PSMO result: $(cat "$work/op")"

http "create two more" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$card_eid\",\"operation\":{\"psmo\":[{\"disable\":{\"iccid\":\"8900000000000000001\"}}]}}" \
  "$base/api/v1/operations"
op2=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
http "create an ipaEuiccData" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$card_eid\",\"operation\":{\"ipaEuiccData\":{\"tags\":[\"ipaCapabilities\",\"euiccInfo1\"]}}}" \
  "$base/api/v1/operations"
op3=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
wait_done "$op2" 20 && grep -q '"disable":"ok"' "$work/op" && ok "the disable is done, pushed" ||
  fail "disable $op2: $(cat "$work/op")"
if wait_done "$op3" 20 && grep -q '"state":"done"' "$work/op"; then
  ok "eUICC data answered inside the push"
else
  fail "ipaEuiccData $op3: $(cat "$work/op")"
fi
caps=$(sed -n 's/.*"ipaCapabilities":"\([^"]*\)".*/\1/p' "$work/op" | base64 -d 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
case $caps in *810205a0*) ok "IpaCapabilities: ipaRetrieveHttps and ipaInjectHttps" ;; *) fail "IpaCapabilities: $caps" ;; esac
http "profiles" 200 -H "$auth" "$base/api/v1/devices/$card_eid/profiles"
grep -q '"iccid":"8900000000000000001","state":"disabled"' "$work/body" || fail "profiles: $(cat "$work/body")"
now_polls=$(grep -c 'ESipa asn1 getEimPackage' "$work/eimd.err" || true)
[ "$now_polls" -eq "$polls" ] && ok "no GetEimPackage since the first poll" ||
  fail "ipad polled: $polls then $now_polls GetEimPackage"
grep -q 'push of operation' "$work/eimd.err" || fail "eimd logged no push"
grep -q 'pushed eIM package taken' "$work/ipad.err" || fail "ipad logged no push"

# the listener: mutual TLS, then the request itself
pa=https://localhost:$pport/gsma/rsp2/asn1
a="-H Content-Type:application/x-gsma-rsp-asn1 -H X-Admin-Protocol:gsma/rsp/v2.1.0"
printf 'BF4E06BF5303800101' | xxd -r -p >"$work/ack.der"
if got=$(curl -sS --cacert "$device_ci" -o /dev/null -w '%{http_code}' $a --data-binary @"$work/ack.der" "$pa" \
  2>"$work/curl.err"); then
  fail "a push without a client certificate got HTTP $got"
else
  ok "a push without a client certificate is refused in the TLS handshake ($(head -c 80 "$work/curl.err"))"
fi
if got=$(curl -sS --cacert "$device_ci" --cert "$work/rogue/CERT_EIMtls_localhost_NIST.pem" \
  --key "$work/rogue/SK_EIMtls_localhost_NIST.pem" -o /dev/null -w '%{http_code}' $a \
  --data-binary @"$work/ack.der" "$pa" 2>"$work/curl.err"); then
  fail "a push with a client certificate of another CA got HTTP $got"
else
  ok "a push with a client certificate of another CA is refused"
fi
if curl -sS --cacert "$ci" -o /dev/null "$pa" 2>/dev/null; then fail "ipad's listener accepted under the wrong CA"; fi
good="--cacert $device_ci --cert $p/CERT_EIMtls_localhost_NIST.pem --key $p/SK_EIMtls_localhost_NIST.pem"
pushreq() {
  name=$1 want=$2
  shift 2
  got=$(curl -sS $good -o "$work/body" -w '%{http_code}' "$@" || echo 000)
  [ "$got" = "$want" ] && ok "$name: HTTP $got" || fail "$name: HTTP $got (expected $want)"
}
pushreq "listener: wrong content type" 415 -H Content-Type:text/plain -H X-Admin-Protocol:gsma/rsp/v2.1.0 \
  --data-binary @"$work/ack.der" "$pa"
pushreq "listener: no X-Admin-Protocol" 400 -H Content-Type:application/x-gsma-rsp-asn1 \
  --data-binary @"$work/ack.der" "$pa"
pushreq "listener: not a TransferEimPackageRequest" 400 $a --data-binary 'garbage' "$pa"
pushreq "listener: another path" 404 $a --data-binary @"$work/ack.der" "https://localhost:$pport/other"
pushreq "listener: eimAcknowledgements from the eIM's certificate" 200 $a --data-binary @"$work/ack.der" "$pa"
[ "$(od -An -v -tx1 "$work/body" | tr -d ' \n')" = "bf4e020500" ] && ok "answered eimPackageReceived" ||
  fail "acknowledgement answer: $(od -An -v -tx1 "$work/body")"

kill -TERM "$ipad_pid"
if wait "$ipad_pid"; then ok "ipad: SIGTERM, exit 0"; else fail "ipad exit status $?"; fi
ipad_pid=

# a push that cannot get through (ipad is down): the next poll gets the same package
http "create a PSMO while ipad is down" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$card_eid\",\"operation\":{\"psmo\":[{\"getRAT\":{}}]}}" "$base/api/v1/operations"
op4=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
for _ in $(seq 1 100); do grep -q "push of operation $op4 failed" "$work/eimd.err" && break; sleep 0.1; done
grep -q "push of operation $op4 failed" "$work/eimd.err" && ok "the push failed and is backed off" ||
  fail "no failed push of operation $op4"
http "operation delivered" 200 -H "$auth" "$base/api/v1/operations/$op4"
grep -q '"state":"delivered"' "$work/body" || fail "operation $op4: $(cat "$work/body")"
sed -i "s/^push_listen = .*/push_listen = 127.0.0.1:$pport/" "$work/ipad.conf"
"$ipad" -c "$work/ipad.conf" >>"$work/ipad.out" 2>>"$work/ipad.err" &
ipad_pid=$!
if wait_done "$op4" 20 && grep -q '"state":"done"' "$work/op"; then
  ok "redelivered by the poll at ipad's start"
else
  fail "operation $op4: $(cat "$work/op")"
fi
grep -q '"deliveryCount":2' "$work/op" || fail "delivery count: $(cat "$work/op")"
kill -TERM "$ipad_pid"
if wait "$ipad_pid"; then ok "ipad: SIGTERM, exit 0"; else fail "ipad exit status $?"; fi
ipad_pid=
kill -TERM "$pid"
if wait "$pid"; then ok "eimd: SIGTERM, exit 0"; else fail "eimd exit status $?"; fi
pid=
kill -TERM "$sim_pid"
wait "$sim_pid" || true
sim_pid=
grep -q "$secret" "$work/eimd.err" "$work/eimd.out" && fail "the token secret is in the log"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
