#!/bin/sh
# End-to-end check of sgp32-pki (apps/tools/sgp32-pki.c): --help, a generated
# set on both curves verified with the tool's own checker, error exits, key
# files private and never printed, and issuing under the SGP.26 CI.
# Usage: check_pki_tool.sh PATH/TO/sgp32-pki SPEC_DIR
set -eu
tool=$1
spec=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM

fail() {
    echo "check_pki_tool: $*" >&2
    exit 1
}
# expect STATUS COMMAND...: run COMMAND, require exit status STATUS, keep its output.
expect() {
    want=$1
    shift
    rc=0
    "$@" >"$dir/out" 2>&1 || rc=$?
    if [ "$rc" -ne "$want" ]; then
        cat "$dir/out" >&2
        fail "exit $rc, wanted $want: $*"
    fi
    if grep -q "PRIVATE KEY" "$dir/out"; then
        fail "key material printed by: $*"
    fi
}

expect 0 "$tool" --help
grep -q "generate --out DIR" "$dir/out" || fail "--help does not describe generate"
expect 0 "$tool" generate --help
expect 2 "$tool"
expect 2 "$tool" no-such-command

eid1=89049032123451234512345678901235
eid2=$("$tool" eid 890490320000000000000000000042)
[ ${#eid2} -eq 32 ] || fail "eid did not compute check digits: $eid2"

# A wrong check digit is refused (with the correction offered), or fixed on request.
expect 2 "$tool" generate --out "$dir/bad" --eid 89049032123451234512345678901234
grep -q "$eid1" "$dir/out" || fail "the corrected EID is not offered"
[ ! -e "$dir/bad" ] || fail "a refused generate wrote files"
expect 2 "$tool" generate --out "$dir/bad" --eid 89049099123451234512345678901235 --fix-check-digits

set_dir=$dir/set
expect 0 "$tool" generate --out "$set_dir" --curve both --eid $eid1 --eid 890490320000000000000000000042 \
    --fix-check-digits --dp-host localhost --dp-host smdp.test --eim-id eim-test --eim-host eim.localhost \
    --valid-from 2026-01-01 --valid-until 2060-01-01
[ -s "$set_dir/manifest.txt" ] || fail "no manifest"
expect 3 "$tool" generate --out "$set_dir" # no overwrite without --force

for c in NIST BRP; do
    ci=$set_dir/CERT_CI_$c.der
    for eid in $eid1 $eid2; do
        expect 0 "$tool" verify --ci "$ci" --eum "$set_dir/CERT_EUM_$c.pem" \
            --euicc "$set_dir/CERT_EUICC_${eid}_$c.der" --eid "$eid" --at 2030-06-01
        grep -q "^OK" "$dir/out" || fail "no OK line for $c $eid"
    done
    expect 0 "$tool" verify --ci "$ci" --cert "$set_dir/CERT_DPauth_$c.der" --role dp-auth --at 2030-06-01
    expect 0 "$tool" verify --ci "$ci" --cert "$set_dir/CERT_DPpb_$c.der" --role dp-pb --at 2030-06-01
    expect 0 "$tool" verify --ci "$ci" --cert "$set_dir/CERT_DPtls_localhost_$c.der" --role dp-tls \
        --host smdp.test --at 2030-06-01
    expect 0 "$tool" verify --issuer "$ci" --cert "$set_dir/CERT_EIMsign_eim-test_$c.der" --at 2030-06-01
    expect 0 "$tool" verify --issuer "$ci" --cert "$set_dir/CERT_EIMtls_eim.localhost_$c.der" --at 2030-06-01
    expect 0 "$tool" show "$set_dir/CERT_EUICC_${eid1}_$c.pem"
    grep -q "EID: *$eid1 (check digits ok)" "$dir/out" || fail "show does not print the EID"
    for key in "$set_dir"/SK_*_$c.pem; do
        [ "$(stat -c %a "$key")" = 600 ] || fail "$key is readable by others"
    done
done

# Verification failures exit 1: wrong curve's CI, wrong role, wrong EID, expired, wrong host.
expect 1 "$tool" verify --ci "$set_dir/CERT_CI_BRP.der" --eum "$set_dir/CERT_EUM_NIST.der" \
    --euicc "$set_dir/CERT_EUICC_${eid1}_NIST.der" --at 2030-06-01
grep -q "unknown CI" "$dir/out" || fail "unknown CI not reported"
expect 1 "$tool" verify --ci "$set_dir/CERT_CI_NIST.der" --cert "$set_dir/CERT_DPauth_NIST.der" --role dp-pb \
    --at 2030-06-01
expect 1 "$tool" verify --ci "$set_dir/CERT_CI_NIST.der" --eum "$set_dir/CERT_EUM_NIST.der" \
    --euicc "$set_dir/CERT_EUICC_${eid1}_NIST.der" --eid "$eid2" --at 2030-06-01
expect 1 "$tool" verify --ci "$set_dir/CERT_CI_NIST.der" --eum "$set_dir/CERT_EUM_NIST.der" \
    --euicc "$set_dir/CERT_EUICC_${eid1}_NIST.der" --at 2061-01-01
expect 1 "$tool" verify --ci "$set_dir/CERT_CI_NIST.der" --cert "$set_dir/CERT_DPtls_localhost_NIST.der" \
    --role dp-tls --host example.com --at 2030-06-01

# The SGP.26 chain, and a set issued under the SGP.26 CI.
sgp26=$spec/sgp26
expect 0 "$tool" verify --ci "$sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der" \
    --ci "$sgp26/CertificateIssuer/CERT_CI_ECDSA_BRP.der" --eum "$sgp26/EUM/CERT_EUM_ECDSA_BRP.der" \
    --euicc "$sgp26/eUICC/CERT_EUICC_ECDSA_BRP.der" --eid $eid1 --at 2030-06-01
expect 0 "$tool" generate --out "$dir/sgp26" --sgp26 "$sgp26" --curve nist --eid $eid1
expect 0 "$tool" verify --ci "$sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der" --eum "$dir/sgp26/CERT_EUM_NIST.der" \
    --euicc "$dir/sgp26/CERT_EUICC_${eid1}_NIST.der" --eid $eid1
[ ! -e "$dir/sgp26/SK_CI_NIST.pem" ] || fail "the SGP.26 CI key was copied"
echo "check_pki_tool: ok"
