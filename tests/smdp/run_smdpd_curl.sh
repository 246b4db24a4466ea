#!/bin/sh
# smdpd robustness with curl: malformed JSON, wrong types, unknown, missing and duplicate
# fields, bad base64, oversized bodies, wrong methods, content types and paths, garbage ASN.1,
# ES2+ without the token, ES2+ with mutual TLS, the callbacks' client certificate settings. Every answer must be spec-shaped (a header with functionExecutionStatus
# Failed and the expected subject/reason, or the HTTP status for transport-level problems), and
# the server must keep serving. smdpd runs on 127.0.0.1, a free port; the trap always stops it.
# usage: run_smdpd_curl.sh SGP32_PKI SMDPD SPEC_DIR WORK_DIR
set -eu
pki=$1 smdpd=$2 spec=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$pki" generate --out "$work/pki" --sgp26 "$spec/sgp26" --dp-host localhost --curve nist >/dev/null
cat >"$work/smdpd.conf" <<CONF
listen = 127.0.0.1
port = 0
address = localhost
tls_certificate = $work/pki/CERT_DPtls_localhost_NIST.pem
tls_key = $work/pki/SK_DPtls_localhost_NIST.pem
ci_certificate = $work/pki/CERT_CI_SGP26_NIST.pem
credentials = $work/pki/CERT_DPauth_NIST.der $work/pki/SK_DPauth_NIST.pem $work/pki/CERT_DPpb_NIST.der $work/pki/SK_DPpb_NIST.pem
database = $work/smdpd.db
template = ts48 $spec/profiles/TS48V1-A-UNIQUE.der
inventory = ts48 894944999900000000 5
es2_token = curl-token
max_body = 65536
log_level = error
CONF
"$smdpd" --help | grep -q 'es2_callback_url' || { echo "--help does not list every key"; exit 1; }
"$smdpd" --config "$work/smdpd.conf" --check >/dev/null
# a callback token is never sent in clear: refused at start with an http URL
if "$smdpd" --config "$work/smdpd.conf" --set es2_callback_url=http://127.0.0.1:9/cb \
     --set es2_callback_token=secret --check >/dev/null 2>"$work/token.err"; then
  echo "smdpd accepted a callback token with an http URL"; exit 1
fi
grep -q 'needs an https://' "$work/token.err" || { echo "no clear message for the token/http refusal"; exit 1; }
# smdpd's client certificate for the callbacks (mutual TLS): with its key, over https, PEM files
# it can read; each mistake refused at start with its own message
cert="es2_callback_client_certificate=$work/pki/CERT_EIMtls_localhost_NIST.pem"
key="es2_callback_client_key=$work/pki/SK_EIMtls_localhost_NIST.pem"
refused() { # MESSAGE SETTINGS...
  message=$1; shift
  if "$smdpd" --config "$work/smdpd.conf" "$@" --check >/dev/null 2>"$work/client.err"; then
    echo "smdpd accepted: $*"; exit 1
  fi
  grep -q "$message" "$work/client.err" || { echo "no clear message for: $*"; cat "$work/client.err"; exit 1; }
}
refused 'go together' --set es2_callback_url=https://localhost:9/cb --set "$cert"
refused 'needs an https://' --set es2_callback_url=http://127.0.0.1:9/cb --set "$cert" --set "$key"
refused 'not a PEM file' --set es2_callback_url=https://localhost:9/cb --set "$cert" \
  --set "es2_callback_client_key=$work/pki/CERT_DPauth_NIST.der"
"$smdpd" --config "$work/smdpd.conf" --set es2_callback_url=https://localhost:9/cb --set "$cert" --set "$key" \
  --check >/dev/null || { echo "smdpd refused a good callback client certificate"; exit 1; }
# a value too long for its field is refused, not cut and run on into the next field
if "$smdpd" --config "$work/smdpd.conf" --set "inventory = ts48 894450000000000000012345 10" --check \
     >/dev/null 2>"$work/long.err"; then
  echo "smdpd accepted an over-long ICCID"; exit 1
fi
grep -q 'is too long' "$work/long.err" || { echo "no clear message for an over-long ICCID"; exit 1; }
# start_smdpd [--set ...]: smdpd on the config (plus the given settings) in the background; sets
# pid and base once it listens
start_smdpd() {
  : >"$work/stdout"
  "$smdpd" --config "$work/smdpd.conf" "$@" >>"$work/stdout" 2>"$work/stderr" &
  pid=$!
  port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^smdpd: listening on port \([0-9]*\).*/\1/p' "$work/stdout" || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "smdpd did not start"; cat "$work/stderr"; exit 1; }
  base=https://localhost:$port
}
start_smdpd
ca=$work/pki/CERT_CI_SGP26_NIST.pem
failures=0

# check NAME EXPECTED_HTTP EXPECTED_SUBJECT/REASON (or -) CURL-ARGS...
check() {
  name=$1 want_http=$2 want_code=$3
  shift 3
  http=$(curl -sS --cacert "$ca" -o "$work/body" -w '%{http_code}' "$@" || echo 000)
  got="-"
  if [ -s "$work/body" ]; then
    subject=$(sed -n 's/.*"subjectCode":"\([^"]*\)".*/\1/p' "$work/body")
    reason=$(sed -n 's/.*"reasonCode":"\([^"]*\)".*/\1/p' "$work/body")
    [ -n "$subject" ] && got="$subject/$reason"
    grep -q '"functionExecutionStatus"' "$work/body" || got="not-spec-shaped"
  fi
  if [ "$http" != "$want_http" ] || [ "$got" != "$want_code" ]; then
    echo "FAIL $name: HTTP $http $got (expected HTTP $want_http $want_code)"; cat "$work/body"; echo
    failures=$((failures + 1))
  else
    echo "ok   $name: HTTP $http $got"
  fi
}

j="-H Content-Type:application/json -H X-Admin-Protocol:gsma/rsp/v2.2.0"
ia=$base/gsma/rsp2/es9plus/initiateAuthentication
check "malformed JSON" 200 1.6/2.1 $j -d '{"euiccChallenge":' "$ia"
check "not an object" 200 1.6/2.1 $j -d '[1,2,3]' "$ia"
check "empty body" 200 1.6/2.1 $j -X POST "$ia"
check "wrong type" 200 1.6/2.1 $j -d '{"euiccChallenge":5,"euiccInfo1":"vyAA","smdpAddress":"localhost"}' "$ia"
check "unknown field" 200 1.6/2.1 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA","smdpAddress":"localhost","lpaRspCapability":"x"}' "$ia"
check "missing field" 200 1.6/2.2 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","smdpAddress":"localhost"}' "$ia"
check "duplicate key" 200 1.6/2.1 $j -d '{"smdpAddress":"localhost","smdpAddress":"x","euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA"}' "$ia"
check "bad base64" 200 1.6/2.1 $j -d '{"euiccChallenge":"@@@","euiccInfo1":"vyAA","smdpAddress":"localhost"}' "$ia"
check "short challenge" 200 1.6/2.1 $j -d '{"euiccChallenge":"AAAA","euiccInfo1":"vyAA","smdpAddress":"localhost"}' "$ia"
check "bad euiccInfo1" 200 1.6/2.1 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA","smdpAddress":"localhost"}' "$ia"
check "invalid smdpAddress" 200 8.8.1/3.8 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA","smdpAddress":"evil.example"}' "$ia"
check "header wrong type" 200 1.6/2.1 $j -d '{"header":"x","transactionId":"00","authenticateServerResponse":"vzgA"}' "$base/gsma/rsp2/es9plus/authenticateClient"
check "bad transactionId" 200 1.6/2.1 $j -d '{"transactionId":"XYZ","authenticateServerResponse":"vzgA"}' "$base/gsma/rsp2/es9plus/authenticateClient"
check "unknown transactionId" 200 8.10.1/3.9 $j -d '{"transactionId":"0011","authenticateServerResponse":"vzgA"}' "$base/gsma/rsp2/es9plus/authenticateClient"
check "unknown transaction (gbpp)" 200 8.10.1/3.9 $j -d '{"transactionId":"0011","prepareDownloadResponse":"vyEA"}' "$base/gsma/rsp2/es9plus/getBoundProfilePackage"
check "unknown transaction (cancel)" 200 8.10.1/3.9 $j -d '{"transactionId":"0011","cancelSessionResponse":"v0EA"}' "$base/gsma/rsp2/es9plus/cancelSession"
check "notification garbage" 200 1.6/2.1 $j -d '{"pendingNotification":"AQID"}' "$base/gsma/rsp2/es9plus/handleNotification"
head -c 300000 /dev/zero | tr '\0' 'A' >"$work/big"
check "oversized body" 413 1.6/2.1 $j --data-binary @"$work/big" "$ia"
check "wrong content type" 415 1.6/2.1 -H Content-Type:text/plain -H X-Admin-Protocol:gsma/rsp/v2.2.0 -d '{}' "$ia"
check "no X-Admin-Protocol" 400 1.6/2.2 -H Content-Type:application/json -d '{}' "$ia"
check "GET" 405 1.6/2.1 -H X-Admin-Protocol:gsma/rsp/v2.2.0 "$ia"
check "unknown function" 404 1.6/3.9 $j -d '{}' "$base/gsma/rsp2/es9plus/doSomething"
check "unknown path" 404 1.6/3.9 $j -d '{}' "$base/index.html"
check "ASN.1 garbage" 400 - -H Content-Type:application/x-gsma-rsp-asn1 -H X-Admin-Protocol:gsma/rsp/v2.2.0 --data-binary 'garbage' "$base/gsma/rsp2/asn1"
check "ES2+ without token" 401 1.1/1.1 $j -d '{"header":{"functionRequesterIdentifier":"op","functionCallIdentifier":"1"},"profileType":"ts48"}' "$base/gsma/rsp2/es2plus/downloadOrder"
check "ES2+ unknown field" 200 1.6/2.1 $j -H 'Authorization: Bearer curl-token' -d '{"header":{"functionRequesterIdentifier":"op","functionCallIdentifier":"1"},"profileType":"ts48","x":1}' "$base/gsma/rsp2/es2plus/downloadOrder"
check "ES2+ oversized string" 200 1.6/2.1 $j -H 'Authorization: Bearer curl-token' -d "{\"header\":{\"functionRequesterIdentifier\":\"op\",\"functionCallIdentifier\":\"1\"},\"profileType\":\"$(head -c 500 /dev/zero | tr '\0' 'x')\"}" "$base/gsma/rsp2/es2plus/downloadOrder"
check "ES2+ downloadOrder" 200 - $j -H 'Authorization: Bearer curl-token' -d '{"header":{"functionRequesterIdentifier":"op","functionCallIdentifier":"1"},"profileType":"ts48"}' "$base/gsma/rsp2/es2plus/downloadOrder"
grep -q '"iccid":"89494499990000000' "$work/body" || { echo "FAIL downloadOrder answer: $(cat "$work/body")"; failures=$((failures + 1)); }
# still serving, still the same process
kill -0 "$pid" || { echo "FAIL smdpd died"; failures=$((failures + 1)); }
check "still serving" 200 8.8.1/3.8 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA","smdpAddress":"evil.example"}' "$ia"
# a client that does not trust the CI refuses the server (TLS verified by default)
if curl -sS -o /dev/null "$ia" 2>/dev/null; then echo "FAIL TLS accepted without the CI"; failures=$((failures + 1)); fi
kill -TERM "$pid"
wait "$pid" || { echo "FAIL smdpd exit status $?"; failures=$((failures + 1)); }
pid=

# ES2+ with mutual TLS (es2_client_ca): the operator's client certificate is needed on top of the
# token; one from another CA is refused too; ES9+ clients still need none. The client
# certificate here is the test PKI's EIMtls (clientAuth, under the SGP.26 CI); the rogue one is
# the same kind of certificate under a CI of its own.
"$pki" generate --out "$work/rogue" --dp-host localhost --curve nist >/dev/null
start_smdpd --set "es2_client_ca = $ca" --set "database = $work/mtls.db"
order='{"header":{"functionRequesterIdentifier":"op","functionCallIdentifier":"2"},"profileType":"ts48"}'
client="--cert $work/pki/CERT_EIMtls_localhost_NIST.pem --key $work/pki/SK_EIMtls_localhost_NIST.pem"
rogue="--cert $work/rogue/CERT_EIMtls_localhost_NIST.pem --key $work/rogue/SK_EIMtls_localhost_NIST.pem"
check "mTLS: ES2+ token, no certificate" 401 1.1/1.1 $j -H 'Authorization: Bearer curl-token' -d "$order" "$base/gsma/rsp2/es2plus/downloadOrder"
check "mTLS: ES2+ certificate, no token" 401 1.1/1.1 $client $j -d "$order" "$base/gsma/rsp2/es2plus/downloadOrder"
check "mTLS: ES2+ certificate and token" 200 - $client $j -H 'Authorization: Bearer curl-token' -d "$order" "$base/gsma/rsp2/es2plus/downloadOrder"
grep -q '"iccid":"89494499990000000' "$work/body" || { echo "FAIL mTLS downloadOrder answer: $(cat "$work/body")"; failures=$((failures + 1)); }
check "mTLS: rogue certificate" 401 1.1/1.1 $rogue $j -H 'Authorization: Bearer curl-token' -d "$order" "$base/gsma/rsp2/es2plus/downloadOrder"
check "mTLS: ES9+ without certificate" 200 8.8.1/3.8 $j -d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","euiccInfo1":"vyAA","smdpAddress":"evil.example"}' "$base/gsma/rsp2/es9plus/initiateAuthentication"
kill -TERM "$pid"
wait "$pid" || { echo "FAIL smdpd (mutual TLS) exit status $?"; failures=$((failures + 1)); }
pid=
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
