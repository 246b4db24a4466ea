/*
 * The SM-DP+ download session as bytes (design principle 9), so that an SM-DP+ server can keep its
 * sessions in a store between the ES9+ calls of one download and across restarts.
 *
 * 30 {80 version (1), 81 phase, 82 serverAddress, 83 now, 84 transactionId, 85 serverChallenge,
 *     86 serverSigned1, 87 serverSignature1, 88 matchingId (only when present), 89 EID,
 *     8A PK.EUICC curve, 8B PK.EUICC point, 8C euiccSignature1, 8D ccRequired, 8E hashCc,
 *     8F smdpSigned2, 90 smdpSignature2, 91 otPK.EUICC curve, 92 otPK.EUICC point}
 *
 * What follows from the credentials (SM-DP+ OID, the DPpb curve, the CI PKID) is not encoded:
 * _decode recomputes it. No private key is ever part of a session.
 */
#include <string.h>

#include "smdp_internal.h"

enum { SESSION_ENCODING_VERSION = 1 };

enum {
    T_VERSION = 0x80,
    T_PHASE,
    T_ADDRESS,
    T_NOW,
    T_TXID,
    T_SERVER_CHALLENGE,
    T_SERVER_SIGNED1,
    T_SERVER_SIGNATURE1,
    T_MATCHING_ID,
    T_EID,
    T_EUICC_CURVE,
    T_EUICC_POINT,
    T_EUICC_SIGNATURE1,
    T_CC_REQUIRED,
    T_HASH_CC,
    T_SMDP_SIGNED2,
    T_SMDP_SIGNATURE2,
    T_OTPK_CURVE,
    T_OTPK_POINT,
};

int sgp32_smdp_session_encode(const sgp32_smdp_session *s, sgp32_buf *out)
{
    if (!s || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t before = out->len;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, T_VERSION, SESSION_ENCODING_VERSION);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, T_PHASE, (int64_t)s->phase);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_ADDRESS, (const uint8_t *)s->server_address,
                                  strlen(s->server_address));
    if (!rc)
        rc = sgp32_asn1_write_integer(out, T_NOW, s->now);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_TXID, s->transaction_id, s->transaction_id_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_SERVER_CHALLENGE, s->server_challenge, sizeof(s->server_challenge));
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_SERVER_SIGNED1, s->server_signed1, s->server_signed1_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_SERVER_SIGNATURE1, s->server_signature1, SGP32_EC_RAW_SIG_LEN);
    if (!rc && s->has_matching_id)
        rc =
            sgp32_asn1_write_tlv(out, T_MATCHING_ID, (const uint8_t *)s->matching_id, strlen(s->matching_id));
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_EID, s->eid, sizeof(s->eid));
    if (!rc)
        rc = sgp32_asn1_write_integer(out, T_EUICC_CURVE, (int64_t)s->euicc_key.curve);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_EUICC_POINT, s->euicc_key.point, SGP32_EC_POINT_LEN);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_EUICC_SIGNATURE1, s->euicc_signature1, SGP32_EC_RAW_SIG_LEN);
    if (!rc)
        rc = sgp32_asn1_write_boolean(out, T_CC_REQUIRED, s->cc_required);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_HASH_CC, s->hash_cc, SGP32_SHA256_LEN);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_SMDP_SIGNED2, s->smdp_signed2, s->smdp_signed2_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_SMDP_SIGNATURE2, s->smdp_signature2, SGP32_EC_RAW_SIG_LEN);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, T_OTPK_CURVE, (int64_t)s->euicc_otpk.curve);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, T_OTPK_POINT, s->euicc_otpk.point, SGP32_EC_POINT_LEN);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, mark);
    if (rc)
        out->len = before;
    return rc;
}

/* Copy a field of exactly len bytes (or at most len with *got set). */
static int take(sgp32_bytes value, void *to, size_t max, size_t *got)
{
    if (got ? value.len > max : value.len != max)
        return SGP32_ERR_STORE_CORRUPT;
    memcpy(to, value.data, value.len);
    if (got)
        *got = value.len;
    return SGP32_OK;
}

static int take_integer(sgp32_bytes value, int64_t min, int64_t max, int64_t *out)
{
    if (sgp32_asn1_parse_integer(value, out) != SGP32_OK || *out < min || *out > max)
        return SGP32_ERR_STORE_CORRUPT;
    return SGP32_OK;
}

static int decode_field(sgp32_smdp_session *s, const sgp32_asn1_tlv *f)
{
    int64_t n = 0;
    int rc = SGP32_OK;
    switch (f->tag) {
    case T_PHASE:
        rc = take_integer(f->value, SGP32_SMDP_NEW, SGP32_SMDP_FINISHED, &n);
        s->phase = (sgp32_smdp_phase)n;
        return rc;
    case T_NOW: return take_integer(f->value, INT64_MIN, INT64_MAX, &s->now);
    case T_TXID: return take(f->value, s->transaction_id, SGP32_SMDP_TXID_LEN, &s->transaction_id_len);
    case T_SERVER_CHALLENGE: return take(f->value, s->server_challenge, sizeof(s->server_challenge), NULL);
    case T_SERVER_SIGNED1:
        return take(f->value, s->server_signed1, SGP32_SMDP_SIGNED_MAX, &s->server_signed1_len);
    case T_SERVER_SIGNATURE1: return take(f->value, s->server_signature1, SGP32_EC_RAW_SIG_LEN, NULL);
    case T_MATCHING_ID: {
        size_t len = 0;
        rc = take(f->value, s->matching_id, SGP32_SMDP_MATCHING_ID_MAX, &len);
        s->matching_id[len] = '\0';
        s->has_matching_id = !rc;
        return rc;
    }
    case T_EID: return take(f->value, s->eid, sizeof(s->eid), NULL);
    case T_EUICC_CURVE:
    case T_OTPK_CURVE:
        rc = take_integer(f->value, 0, SGP32_CURVE_BRAINPOOL_P256R1, &n);
        if (f->tag == T_EUICC_CURVE)
            s->euicc_key.curve = (sgp32_curve)n;
        else
            s->euicc_otpk.curve = (sgp32_curve)n;
        return rc;
    case T_EUICC_POINT: return take(f->value, s->euicc_key.point, SGP32_EC_POINT_LEN, NULL);
    case T_OTPK_POINT: return take(f->value, s->euicc_otpk.point, SGP32_EC_POINT_LEN, NULL);
    case T_EUICC_SIGNATURE1: return take(f->value, s->euicc_signature1, SGP32_EC_RAW_SIG_LEN, NULL);
    case T_CC_REQUIRED:
        return sgp32_asn1_parse_boolean(f->value, &s->cc_required) ? SGP32_ERR_STORE_CORRUPT : SGP32_OK;
    case T_HASH_CC: return take(f->value, s->hash_cc, SGP32_SHA256_LEN, NULL);
    case T_SMDP_SIGNED2: return take(f->value, s->smdp_signed2, SGP32_SMDP_SIGNED_MAX, &s->smdp_signed2_len);
    case T_SMDP_SIGNATURE2: return take(f->value, s->smdp_signature2, SGP32_EC_RAW_SIG_LEN, NULL);
    default: return SGP32_ERR_STORE_CORRUPT;
    }
}

int sgp32_smdp_session_decode(sgp32_smdp_session *s, const uint8_t *data, size_t len,
                              const sgp32_smdp_credentials *credentials, const sgp32_ci_set *trusted_cis)
{
    if (!s || !data || !credentials || !trusted_cis)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv outer, f;
    if (sgp32_asn1_expect(data, len, 0x30, &outer) != SGP32_OK)
        return SGP32_ERR_STORE_CORRUPT;
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, outer.value, 1);
    int64_t version = 0;
    if (sgp32_asn1_reader_next(&reader, &f) != SGP32_OK || f.tag != T_VERSION ||
        sgp32_asn1_parse_integer(f.value, &version) != SGP32_OK)
        return SGP32_ERR_STORE_CORRUPT;
    if (version != SESSION_ENCODING_VERSION)
        return SGP32_ERR_STORE_VERSION;
    if (sgp32_asn1_reader_next(&reader, &f) != SGP32_OK || f.tag != T_PHASE ||
        sgp32_asn1_reader_next(&reader, &f) != SGP32_OK || f.tag != T_ADDRESS || f.value.len == 0 ||
        f.value.len > SGP32_SMDP_ADDRESS_MAX)
        return SGP32_ERR_STORE_CORRUPT;
    char address[SGP32_SMDP_ADDRESS_MAX + 1];
    memcpy(address, f.value.data, f.value.len);
    address[f.value.len] = '\0';
    int rc = sgp32_smdp_session_init(s, credentials, trusted_cis, address, 0);
    if (rc)
        return rc;
    sgp32_asn1_reader_init(&reader, outer.value, 1);
    int next;
    while (!rc && (next = sgp32_asn1_reader_next(&reader, &f)) != SGP32_ERR_NOT_FOUND) {
        if (next)
            rc = SGP32_ERR_STORE_CORRUPT;
        else if (f.tag != T_VERSION && f.tag != T_ADDRESS)
            rc = decode_field(s, &f);
    }
    if (rc)
        sgp32_smdp_session_clear(s);
    return rc;
}
