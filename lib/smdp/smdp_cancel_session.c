/*
 * CancelSession, the SM-DP+ side (SGP.22 §5.6.5; NOTES §6.1): verify the eUICC's
 * CancelSessionResponse for this session.
 *
 * BF41 {A0 {30 euiccCancelSessionSigned {80 txid, 81 smdpOid, 82 reason}, 5F37 signature}}
 * or BF41 {81 error} (EUICC_ERROR). The signature is PK.EUICC's over the euiccCancelSessionSigned
 * TLV as received; smdpOid must be ours. The eUICC must have authenticated first (PK.EUICC).
 */
#include <string.h>

#include "smdp_internal.h"

static int check_cancel(sgp32_smdp_session *s, const sgp32_sgp32_cancel_session_response *r, int64_t *reason,
                        sgp32_smdp_check *check)
{
    if (r->choice == SGP32_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR) {
        check->euicc_error = r->u.cancel_session_response_error;
        return smdp_refuse(s, check, SGP32_SMDP_EUICC_ERROR, 0, "CancelSessionResponse (eUICC error)");
    }
    if (r->choice != SGP32_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
        return smdp_refuse(s, check, SGP32_SMDP_MALFORMED, SGP32_ERR_UNSUPPORTED,
                           "CancelSessionResponse (compact form)");
    const sgp32_cancel_session_response_ok *ok = &r->u.cancel_session_response_ok;
    const sgp32_euicc_cancel_session_signed *tbs = &ok->euicc_cancel_session_signed;
    if (ok->euicc_cancel_session_signature.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&s->euicc_key, &tbs->der, 1, ok->euicc_cancel_session_signature.data) != SGP32_OK)
        return smdp_refuse(s, check, SGP32_SMDP_SIGNATURE_INVALID, 0, "euiccCancelSessionSignature");
    if (!smdp_txid_is(s, tbs->transaction_id))
        return smdp_refuse(s, check, SGP32_SMDP_TRANSACTION_MISMATCH, 0, "euiccCancelSessionSigned");
    if (!sgp32_bytes_equal(tbs->smdp_oid, SGP32_BYTES(s->smdp_oid, s->smdp_oid_len)))
        return smdp_refuse(s, check, SGP32_SMDP_OID_MISMATCH, 0, "euiccCancelSessionSigned");
    if (reason)
        *reason = tbs->reason;
    return SGP32_OK;
}

int sgp32_smdp_verify_cancel_session(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                     int64_t *reason, sgp32_smdp_check *check)
{
    if (!s || !response || !check)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(check, 0, sizeof(*check));
    if (s->phase < SGP32_SMDP_CLIENT_OK || s->phase == SGP32_SMDP_FINISHED)
        return SGP32_ERR_STATE;
    uint8_t storage[256];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_sgp32_cancel_session_response r;
    memset(&r, 0, sizeof(r));
    int decoded = sgp32_asn1_decode(&sgp32_type_sgp32_cancel_session_response, response, len, &arena, &r);
    int rc = decoded ? smdp_refuse(s, check, SGP32_SMDP_MALFORMED, decoded, "CancelSessionResponse")
                     : check_cancel(s, &r, reason, check);
    sgp32_arena_free(&arena);
    if (!rc && check->verdict == SGP32_SMDP_ACCEPTED)
        s->phase = SGP32_SMDP_FINISHED;
    return rc;
}
