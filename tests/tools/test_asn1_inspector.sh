#!/bin/sh
# sgp32-asn1 end to end: usage, input formats, type selection, errors and exit codes.
# Usage: test_asn1_inspector.sh PATH/TO/sgp32-asn1 [SPEC_DIR]
set -u
tool=${1:?usage: $0 PATH/TO/sgp32-asn1 [SPEC_DIR]}
spec=${2:-}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS...: output in $tmp/out, errors in $tmp/err.
# Every run is bounded in time (a hang is a failure, e.g. on BER indefinite lengths).
run() {
    want=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout 10 "$tool" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    else
        "$tool" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    fi
    got=$?
    [ "$got" -eq "$want" ] || fail "sgp32-asn1 $*: exit $got, expected $want; stderr: $(cat "$tmp/err")"
}

# expect FILE TEXT: FILE contains TEXT (fixed string).
expect() {
    grep -qF -- "$2" "$tmp/$1" || fail "expected '$2' in $1 of the last run:
$(cat "$tmp/$1")"
}

EID=89049032123451234512345678901235
ICCID=989444999999990971F1
S=11111111111111111111111111111111111111111111111111111111111111112222222222222222222222222222222222222222222222222222222222222222
EPR_REQUEST="BF517B3036800365494D5A10${EID}8101028208 0102030405060708 A010A30E5A0A${ICCID}0500 5F3740${S}"

# --help: exit 0, documents the exit status and has examples.
run 0 --help
expect out "Usage: sgp32-asn1"
expect out "Exit status:"
expect out "Examples:"

# --list-types: every named type with its tag.
run 0 --list-types
expect out "BF51"
expect out "EuiccPackageRequest"
expect out "SGP32-EUICCInfo2"

# Hex: auto-detected type, schema names, domain renderings.
run 0 BF4F03020101
expect out "GetEimPackageResponse: eimPackageError: 1 (noEimPackageAvailable)"
expect out "also decodes as: EsipaMessageFromEimToIpa"
run 0 "$EPR_REQUEST"
expect out "# EuiccPackageRequest (tag BF51"
expect out "eidValue: $EID"
expect out "iccid: 8949449999999990171"
expect out "rollbackFlag"
expect out "eimTransactionId: 0102030405060708"
run 0 BF50 09 BF53 06 80 01 01 80 01 02
expect out "eimAcknowledgements [1, 2]"
run 0 30088002026481020780
expect out "IpaCapabilities {"
expect out "ipaFeatures: {indirectRspServerCommunication, eimDownloadDataHandling, minimizeEsipaBytes}"
run 0 --raw "$EPR_REQUEST"
expect out "iccid: $ICCID"

# --type: forced, case-insensitive; a mismatch says where and what it is instead.
run 0 --type euiccpackageresult BF510AA208800365494D840101
expect out "EuiccPackageResult: euiccPackageErrorUnsigned { eimId: \"eIM\", associationToken: 1 }"
run 0 --type=EimPackageResult BF510AA208800365494D840101
expect out "EimPackageResult: euiccPackageResult: euiccPackageErrorUnsigned"
run 1 --type GetEimPackageRequest BF4F03020101
expect err "not a valid GetEimPackageRequest"
expect err "GetEimPackageRequest.eidValue"
expect err "at byte 6"
expect err "it decodes as GetEimPackageResponse"
run 2 --type NoSuchType BF4F03020101
expect err "unknown type 'NoSuchType'"

# Base64: detected, forced, quoted and JSON-escaped, on standard input.
run 0 v08DAgEB
expect out "GetEimPackageResponse: eimPackageError: 1 (noEimPackageAvailable)"
run 0 --base64 v1AJv1MGgAEBgAEC
expect out "eimAcknowledgements [1, 2]"
run 0 '"v1oDgAH\/"'
expect out "ImmediateEnableRequest { refreshFlag: true }"
run 0 '"v08D\nAgEB"'
expect out "eimPackageError: 1 (noEimPackageAvailable)"
echo 'v08DAgEB' | "$tool" - >"$tmp/out" 2>"$tmp/err" || fail "base64 on standard input"
expect out "eimPackageError: 1 (noEimPackageAvailable)"

# A binary file, an HTTP dump of an ESipa body, an ES9+ JSON body.
printf '\277\117\003\002\001\001' >"$tmp/body.der"
run 0 --file "$tmp/body.der"
expect out "eimPackageError: 1 (noEimPackageAvailable)"
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/x-gsma-rsp-asn1\r\n\r\n\277\117\003\002\001\001' >"$tmp/http.bin"
run 0 --file "$tmp/http.bin"
expect out "HTTP message: the body is 6 bytes"
expect out "eimPackageError: 1 (noEimPackageAvailable)"
cat >"$tmp/es9.json" <<'EOF'
{"header":{"functionExecutionStatus":{"status":"Executed-Success"}},
 "transactionId":"0102",
 "serverSigned1":"MDqAAgECgRAAAQIDBAUGBwgJCgsMDQ4PgxBzbWRwLmV4YW1wbGUuY29thBAQERITFBUWFxgZGhscHR4f",
 "euiccInfo1":"vyA1ggMCAgCpFgQU9UFyvfmKldZcvriKOKHBHYAKhcOqFgQU9UFyvfmKldZcvriKOKHBHYAKhcM="}
EOF
run 0 --file "$tmp/es9.json"
expect out 'header.functionExecutionStatus.status: "Executed-Success"'
expect out "serverSigned1 {"
expect out 'serverAddress: "smdp.example.com"'
expect out "euiccInfo1 {"
expect out "svn: v2.2.0"

# A certificate is recognised by its outline, summarised, and its TLV structure shown.
cert="$spec/sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der"
if [ -n "$spec" ] && [ -f "$cert" ]; then
    run 0 --file "$cert"
    expect out "# Certificate (tag 30"
    expect out "Certificate: <Certificate, "
    expect out '"Test CI"'
fi

# Not DER, or not the schema: the TLV tree, the error with offset and path, exit 1.
run 1 BF4F03020102FF
expect out "0000 BF4F len 3 {"
expect err "trailing bytes"
run 1 BF4F03040101
expect err "at byte"
expect err "closest:"
run 1 BF6F020500
expect err "no schema type has tag BF6F"

# BER indefinite length: refused at once, with the reason.
run 1 BF4F80020101000100 00
expect err "indefinite length"
expect err "at byte 0"

# Garbage: neither hex nor base64 (exit 2); valid base64 but not DER (exit 1).
run 2 'hello, world!'
expect err "neither hex nor base64"
expect err "','"
run 2 --hex BF4G
expect err "not hex"
run 1 zzzz
expect err "is not DER"
run 2 --no-such-option
expect err "unknown option --no-such-option"
run 2 --file "$tmp/does-not-exist"
expect err "cannot open"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "sgp32-asn1: all checks passed"
