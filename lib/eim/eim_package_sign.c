/*
 * eIM: build and sign an EuiccPackageRequest (SGP.32 §2.11.1.1; NOTES §8.1, §8.3).
 *
 *   BF51 { 30 euiccPackageSigned, 5F37 40 eimSignature }
 *   eimSignature = ECDSA-SHA256(SK.eIM, DER(euiccPackageSigned) || 84 L associationToken)
 */
#include "sgp32/asn1.h"
#include "sgp32/eim_package.h"

int sgp32_eim_package_sign(const sgp32_euicc_package_signed *package, const sgp32_ec_private_key *eim_key,
                           bool has_token, int64_t token, sgp32_buf *out)
{
    if (!package || !eim_key || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t start = out->len;
    size_t outer = sgp32_asn1_begin(out);
    size_t signed_at = out->len;
    uint8_t token_tlv[SGP32_EIM_TOKEN_TLV_MAX], sig[SGP32_EC_RAW_SIG_LEN];
    size_t token_len = 0;
    int rc = sgp32_asn1_encode(&sgp32_type_euicc_package_signed, package, out);
    if (!rc)
        rc = sgp32_eim_token_tlv(has_token, token, token_tlv, &token_len);
    if (!rc) {
        /* Sign the bytes exactly as they go on the wire. */
        sgp32_bytes parts[2] = {{out->data + signed_at, out->len - signed_at}, {token_tlv, token_len}};
        rc = sgp32_ecdsa_sign(eim_key, parts, 2, sig);
    }
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F37, sig, sizeof(sig));
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_EUICC_PACKAGE_REQUEST, outer);
    if (rc)
        out->len = start;
    return rc;
}
