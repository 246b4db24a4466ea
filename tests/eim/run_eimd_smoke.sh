#!/bin/sh
# eimd end to end with curl: --help and --check, the REST API (401 without a token, register a device
# with its certificates, create an operation, read it back, a malformed body), ESipa over both
# bindings (GetEimPackage delivers the signed package, the JSON binding redelivers the same bytes,
# wrong content type, oversized body), the console, and a clean stop on SIGTERM. eimd runs on
# 127.0.0.1, a free port, TLS verified with the test CI; the trap always stops it.
# With IPAD, EUICC_SIM and EUICC_CLIENT, a real IPA and card follow (a second EID): the card gets
# this eIM by AddInitialEim (REST eim-configuration), then `ipad --once` runs the queued operations
# and their verified results mark them done.
# usage: run_eimd_smoke.sh SGP32_PKI EIMD SPEC_DIR WORK_DIR [IPAD EUICC_SIM EUICC_CLIENT]
set -eu
pki=$1 eimd=$2 spec=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
pid= sim_pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  true
}
trap cleanup EXIT INT TERM

eid=89049032123451234512345678901235
card_eid=89049032123451234512345678909965
secret=smoke-operator-secret-0123456789
"$pki" generate --out "$work/pki" --sgp26 "$spec/sgp26" --curve nist --eim-id eim-smoke --eim-host localhost \
  --eid "$eid" --eid "$card_eid" >/dev/null
p=$work/pki
cat >"$work/eimd.conf" <<CONF
listen = 127.0.0.1
eim_fqdn = localhost
port = 0
eim_id = eim-smoke
tls_certificate = $p/CERT_EIMtls_localhost_NIST.pem
tls_key = $p/SK_EIMtls_localhost_NIST.pem
signing_key = $p/SK_EIMsign_eim-smoke_NIST.pem
signing_certificate = $p/CERT_EIMsign_eim-smoke_NIST.der
ci_certificate = $p/CERT_CI_SGP26_NIST.pem
database = $work/eimd.db
api_token = smoke operator $secret
api_token = viewer read_only smoke-viewer-secret-0123456789
smdp_ca = $p/CERT_CI_SGP26_NIST.pem
max_body = 65536
threads = 2
forward_interval = 1
log_level = info
CONF
chmod 600 "$work/eimd.conf"

failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

help=$("$eimd" --help) || fail "--help exit status"
for key in listen port eim_id eim_fqdn tls_certificate tls_key signing_key signing_certificate ci_certificate \
  database sqlite_synchronous api_token smdp_ca default_smdp_address operation_ttl relay_ttl forward_interval \
  threads max_body log_level; do
  echo "$help" | grep -q "^  $key " || fail "--help does not list $key"
done
ok "--help lists every key"
"$eimd" --config "$work/eimd.conf" --check >"$work/check" 2>&1 || { cat "$work/check"; fail "--check"; }
grep -q 'operations: queued 0' "$work/check" && ok "--check" || { cat "$work/check"; fail "--check output"; }
if "$eimd" --set eim_id=x >/dev/null 2>&1; then fail "missing required keys accepted"; fi

: >"$work/stdout"
"$eimd" --config "$work/eimd.conf" >>"$work/stdout" 2>"$work/stderr" &
pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^eimd: listening on port \([0-9]*\).*/\1/p' "$work/stdout" || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "eimd did not start"; cat "$work/stderr"; exit 1; }
base=https://localhost:$port
ca=$p/CERT_CI_SGP26_NIST.pem

# http NAME EXPECTED_STATUS CURL-ARGS...: body in $work/body, headers in $work/headers
http() {
  name=$1 want=$2
  shift 2
  got=$(curl -sS --cacert "$ca" -D "$work/headers" -o "$work/body" -w '%{http_code}' "$@" || echo 000)
  if [ "$got" = "$want" ]; then
    ok "$name: HTTP $got"
  else
    fail "$name: HTTP $got (expected $want)"
    head -c 600 "$work/body"
    echo
  fi
}
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
auth="Authorization: Bearer $secret"
jtype="Content-Type: application/json"

# REST: authentication
http "REST without token" 401 "$base/api/v1/status"
grep -qi '^WWW-Authenticate: Bearer' "$work/headers" || fail "401 without WWW-Authenticate: Bearer"
http "REST wrong token" 401 -H "Authorization: Bearer not-a-token-of-this-eim" "$base/api/v1/status"
http "REST status" 200 -H "$auth" "$base/api/v1/status"
grep -q '"eimId":"eim-smoke"' "$work/body" || fail "status body: $(cat "$work/body")"
http "read_only token cannot create" 403 -H "Authorization: Bearer smoke-viewer-secret-0123456789" -H "$jtype" \
  -d "{\"eid\":\"$eid\"}" "$base/api/v1/devices"

# REST: register the device with its certificates, queue an operation, read it back
euicc=$(base64 -w0 "$p/CERT_EUICC_${eid}_NIST.der")
eum=$(base64 -w0 "$p/CERT_EUM_NIST.der")
http "register device" 201 -H "$auth" -H "$jtype" \
  -d "{\"eid\":\"$eid\",\"label\":\"smoke\",\"euiccCertificate\":\"$euicc\",\"eumCertificate\":\"$eum\"}" \
  "$base/api/v1/devices"
http "device listed" 200 -H "$auth" "$base/api/v1/devices"
grep -q "\"$eid\"" "$work/body" || fail "device list: $(cat "$work/body")"
http "create operation" 201 -H "$auth" -H "$jtype" -H "Idempotency-Key: smoke-1" \
  -d "{\"eid\":\"$eid\",\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" "$base/api/v1/operations"
op=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
[ -n "$op" ] || fail "no operation id in $(cat "$work/body")"
http "create operation again (idempotent)" 200 -H "$auth" -H "$jtype" -H "Idempotency-Key: smoke-1" \
  -d "{\"eid\":\"$eid\",\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" "$base/api/v1/operations"
grep -q "\"id\":$op[,}]" "$work/body" || fail "idempotent replay answered another operation: $(cat "$work/body")"
http "get operation" 200 -H "$auth" "$base/api/v1/operations/$op"
grep -q '"state":"queued"' "$work/body" || fail "new operation not queued: $(cat "$work/body")"
http "list operations of the EID" 200 -H "$auth" "$base/api/v1/operations?eid=$eid&state=queued"
grep -q "\"id\":$op[,}]" "$work/body" || fail "operation not listed: $(cat "$work/body")"

# ESipa ASN.1: GetEimPackage BF4F { 5A EID } -> BF4F { BF51 EuiccPackageRequest }
a="-H Content-Type:application/x-gsma-rsp-asn1 -H X-Admin-Protocol:gsma/rsp/v2.1.0"
printf 'BF4F125A10%s' "$eid" | xxd -r -p >"$work/get.der"
http "ESipa asn1 getEimPackage" 200 $a --data-binary @"$work/get.der" "$base/gsma/rsp2/asn1"
grep -qi '^Content-Type: application/x-gsma-rsp-asn1' "$work/headers" || fail "ESipa answer content type"
grep -qi '^X-Admin-Protocol: gsma/rsp/v2.1.0' "$work/headers" || fail "ESipa answer X-Admin-Protocol"
cp "$work/body" "$work/package.der"
pkg=$(hexof "$work/package.der")
case $pkg in bf4f*bf51*) ok "package is BF4F { BF51 ... }" ;; *) fail "package: $pkg" ;; esac
http "operation delivered" 200 -H "$auth" "$base/api/v1/operations/$op"
grep -q '"state":"delivered"' "$work/body" || fail "operation not delivered: $(cat "$work/body")"
http "ESipa asn1 wrong content type" 415 -H Content-Type:application/octet-stream \
  -H X-Admin-Protocol:gsma/rsp/v2.1.0 --data-binary @"$work/get.der" "$base/gsma/rsp2/asn1"
http "ESipa asn1 without X-Admin-Protocol" 400 -H Content-Type:application/x-gsma-rsp-asn1 \
  --data-binary @"$work/get.der" "$base/gsma/rsp2/asn1"
http "ESipa asn1 garbage" 400 $a --data-binary 'garbage' "$base/gsma/rsp2/asn1"
http "ESipa asn1 GET" 405 $a "$base/gsma/rsp2/asn1"
head -c 100000 /dev/zero >"$work/big"
http "ESipa oversized body" 413 $a --data-binary @"$work/big" "$base/gsma/rsp2/asn1"

# ESipa JSON: the same package again (redelivery until a result arrives)
j="-H Content-Type:application/json;charset=UTF-8 -H X-Admin-Protocol:gsma/rsp/v2.1.0"
http "ESipa json getEimPackage" 200 $j -d "{\"eidValue\":\"$eid\"}" "$base/gsma/rsp2/esipa/getEimPackage"
grep -qi '^Content-Type: application/json' "$work/headers" || fail "ESipa JSON answer content type"
b64=$(sed -n 's/.*"euiccPackageRequest":"\([^"]*\)".*/\1/p' "$work/body")
if [ -z "$b64" ]; then
  fail "no euiccPackageRequest in $(cat "$work/body")"
else
  printf '%s' "$b64" | base64 -d >"$work/package-json.der"
  again=$(hexof "$work/package-json.der")
  case $pkg in *"$again") ok "JSON binding redelivered the same signed package" ;; *) fail "redelivery differs" ;; esac
fi
http "ESipa json malformed" 400 $j -d '{"eidValue":' "$base/gsma/rsp2/esipa/getEimPackage"
http "ESipa json wrong content type" 415 -H Content-Type:text/plain -H X-Admin-Protocol:gsma/rsp/v2.1.0 \
  -d "{\"eidValue\":\"$eid\"}" "$base/gsma/rsp2/esipa/getEimPackage"

# robustness and the rest
http "REST malformed JSON" 400 -H "$auth" -H "$jtype" -d '{"eid":' "$base/api/v1/operations"
http "REST unknown path" 404 -H "$auth" "$base/api/v1/nothing"
http "REST still serving" 200 -H "$auth" "$base/api/v1/status"
http "console" 200 "$base/"
grep -qi '^Content-Type: text/html' "$work/headers" || fail "console content type"
grep -qi '^Content-Security-Policy:' "$work/headers" || fail "console without Content-Security-Policy"
http "console script" 200 "$base/console.js"
http "unknown path" 404 "$base/index.html"
if curl -sS -o /dev/null "$base/api/v1/status" 2>/dev/null; then fail "TLS accepted without the CA"; fi

# a real IPA and card (optional)
if [ $# -ge 7 ]; then
  ipad=$5 sim=$6 client=$7
  "$sim" --state-dir "$work/card" --pki "$p" --eid "$card_eid" --listen "unix:$work/card.sock" \
    >"$work/sim.out" 2>"$work/sim.err" &
  sim_pid=$!
  for _ in $(seq 1 100); do [ -S "$work/card.sock" ] && break; sleep 0.1; done
  card_cert=$(base64 -w0 "$p/CERT_EUICC_${card_eid}_NIST.der")
  http "register the card" 201 -H "$auth" -H "$jtype" \
    -d "{\"eid\":\"$card_eid\",\"euiccCertificate\":\"$card_cert\",\"eumCertificate\":\"$eum\"}" \
    "$base/api/v1/devices"
  http "eIM configuration" 200 -H "$auth" "$base/api/v1/devices/$card_eid/eim-configuration"
  add=$(sed -n 's/.*"addInitialEim":"\([^"]*\)".*/\1/p' "$work/body" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  answer=$("$client" "unix:$work/card.sock" es10 "$add" || true)
  case $answer in BF57??A0*) ok "AddInitialEim on the card" ;; *) fail "AddInitialEim: $answer" ;; esac
  http "create operations for the card" 201 -H "$auth" -H "$jtype" \
    -d "{\"eid\":\"$card_eid\",\"operation\":{\"psmo\":[{\"listProfileInfo\":{}}]}}" "$base/api/v1/operations"
  http "create operations for the card" 201 -H "$auth" -H "$jtype" \
    -d "{\"eid\":\"$card_eid\",\"operation\":{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\"]}}}" \
    "$base/api/v1/operations"
  cat >"$work/ipad.conf" <<IPAD
card = socket:unix:$work/card.sock
eim_address = localhost:$port
ca_file = $ca
state_file = $work/ipad.state
IPAD
  if timeout 60 "$ipad" -c "$work/ipad.conf" --once >"$work/ipad.out" 2>"$work/ipad.err"; then
    ok "ipad --once"
  else
    fail "ipad --once"
    tail -5 "$work/ipad.err"
  fi
  http "operations after the IPA" 200 -H "$auth" "$base/api/v1/operations?eid=$card_eid"
  done_count=$(grep -o '"state":"done"' "$work/body" | wc -l)
  [ "$done_count" -eq 2 ] && ok "both operations done" || fail "operations: $(cat "$work/body")"
  http "profiles from the listProfileInfo result" 200 -H "$auth" "$base/api/v1/devices/$card_eid/profiles"
  grep -q '"iccid":"8900000000000000001"' "$work/body" || fail "profiles: $(cat "$work/body")"
  kill -TERM "$sim_pid"
  wait "$sim_pid" || fail "euicc-sim exit status"
  sim_pid=
fi

kill -0 "$pid" || fail "eimd died"
kill -TERM "$pid"
if wait "$pid"; then ok "SIGTERM: exit 0"; else fail "eimd exit status $?"; fi
pid=
grep -q "$secret" "$work/stderr" "$work/stdout" && fail "the token secret is in the log"
grep -q 'ESipa asn1 getEimPackage' "$work/stderr" || fail "no ESipa log line"
"$eimd" --config "$work/eimd.conf" --check >"$work/check" 2>&1 || fail "--check after the run"
grep -q 'delivered 1' "$work/check" || { cat "$work/check"; fail "the delivered operation did not persist"; }
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
