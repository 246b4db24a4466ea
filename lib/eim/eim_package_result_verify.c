/*
 * eIM: decode and verify an EuiccPackageResult (SGP.32 §2.11.2.1; NOTES §8.3, §8.5).
 *
 *   BF51 { A0 { 30 euiccPackageResultDataSigned, 5F37 euiccSignEPR } }   signed result
 *   BF51 { A1 { 30 euiccPackageErrorDataSigned, 5F37 euiccSignEPE } }    signed error
 *   BF51 { A2 { 80 eimId, [82 txid], [84 associationToken] } }           unsigned error
 *
 * The signature covers the data as received (the `der` view of the decoded SEQUENCE),
 * followed by the associationToken object (sgp32_eim_token_tlv).
 */

#include "sgp32/asn1.h"
#include "sgp32/eim_package.h"

/* `BF51 {30 ...}` without the CHOICE tag: re-wrap the content as `BF51 {A0 ...}` in the arena.
 * The signed SEQUENCE inside keeps its received bytes, so the signature check stays exact. */
static int rewrap_untagged(const uint8_t *der, size_t len, sgp32_arena *arena, sgp32_bytes *fixed)
{
    sgp32_asn1_tlv outer, inner;
    size_t used;
    int rc = sgp32_asn1_expect(der, len, SGP32_TAG_EUICC_PACKAGE_RESULT, &outer);
    if (!rc)
        rc = sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &inner, &used);
    if (rc || inner.tag != 0x30)
        return rc ? rc : SGP32_ERR_ASN1_UNEXPECTED_TAG;
    size_t inner_len = outer.value.len;
    size_t need = 2 * (2 + 1 + sizeof(size_t)) + inner_len;
    uint8_t *mem = sgp32_arena_alloc(arena, need);
    if (!mem)
        return SGP32_ERR_NO_MEMORY;
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, mem, need);
    size_t m1 = sgp32_asn1_begin(&b);
    size_t m2 = sgp32_asn1_begin(&b);
    rc = sgp32_buf_append(&b, outer.value.data, inner_len);
    if (!rc)
        rc = sgp32_asn1_end(&b, 0xA0, m2);
    if (!rc)
        rc = sgp32_asn1_end(&b, SGP32_TAG_EUICC_PACKAGE_RESULT, m1);
    *fixed = (sgp32_bytes){b.data, b.len};
    return rc;
}

static int verify(const sgp32_ec_public_key *key, sgp32_bytes data_signed, sgp32_bytes sig, bool has_token,
                  int64_t token)
{
    uint8_t token_tlv[SGP32_EIM_TOKEN_TLV_MAX];
    size_t token_len;
    if (sig.len != SGP32_EC_RAW_SIG_LEN)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    int rc = sgp32_eim_token_tlv(has_token, token, token_tlv, &token_len);
    if (rc)
        return rc;
    sgp32_bytes parts[2] = {data_signed, {token_tlv, token_len}};
    return sgp32_ecdsa_verify(key, parts, 2, sig.data);
}

int sgp32_eim_package_result_verify(const uint8_t *der, size_t len, const sgp32_ec_public_key *euicc_key,
                                    bool has_token, int64_t token, sgp32_arena *arena,
                                    sgp32_euicc_package_result *result)
{
    if (!der || !euicc_key || !arena || !result)
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = sgp32_asn1_decode(&sgp32_type_euicc_package_result, der, len, arena, result);
    if (rc) {
        sgp32_bytes fixed;
        if (rewrap_untagged(der, len, arena, &fixed) != SGP32_OK)
            return rc;
        rc = sgp32_asn1_decode(&sgp32_type_euicc_package_result, fixed.data, fixed.len, arena, result);
        if (rc)
            return rc;
    }
    switch (result->choice) {
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED: {
        const sgp32_euicc_package_result_signed *s = &result->u.euicc_package_result_signed;
        return verify(euicc_key, s->euicc_package_result_data_signed.der, s->euicc_sign_epr, has_token,
                      token);
    }
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED: {
        const sgp32_euicc_package_error_signed *s = &result->u.euicc_package_error_signed;
        return verify(euicc_key, s->euicc_package_error_data_signed.der, s->euicc_sign_epe, has_token, token);
    }
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED: return SGP32_OK;
    default: return SGP32_ERR_ASN1_UNKNOWN_CHOICE;
    }
}
