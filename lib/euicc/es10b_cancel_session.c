/*
 * ES10b.CancelSession (SGP.22 §5.7.14; NOTES §5.3, §6.1).
 *
 * BF41 {80 transactionId, 81 reason}
 *   -> BF41 {A0 {30 euiccCancelSessionSigned {80 transactionId, 81 smdpOid, 82 reason},
 *                5F37 euiccCancelSessionSignature}}
 *   or BF41 {81 cancelSessionResponseError}  invalidTransactionId (5): no session, or another one
 *
 * smdpOid is the SM-DP+ OID of CERT.DPauth (the schema's comment); the signature is made with the
 * identity the session uses, over the euiccCancelSessionSigned TLV. A successful cancel ends the
 * session (a profile being loaded is dropped, without an interruption PIR: the cancellation is
 * the report); a refused one leaves it alone.
 */
#include <string.h>

#include "es8_download.h"

int es10b_cancel_session(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    uint8_t storage[128];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_cancel_session_request req;
    memset(&req, 0, sizeof(req));
    int rc = euicc_decode(euicc, &sgp32_type_cancel_session_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_download *dl = euicc->download;
    size_t outer = sgp32_asn1_begin(out);
    if (!dl || !euicc_download_txid_is(dl, req.transaction_id)) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "CancelSession: %s",
                  dl ? "not this session's transactionId" : "no session");
        rc = sgp32_asn1_write_integer(
            out, 0x81, SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR_INVALID_TRANSACTION_ID);
        return rc ? rc : sgp32_asn1_end(out, SGP32_TAG_CANCEL_SESSION_RESPONSE, outer);
    }
    size_t ok = sgp32_asn1_begin(out), tbs = sgp32_asn1_begin(out);
    rc = sgp32_asn1_write_tlv(out, 0x80, dl->transaction_id, dl->transaction_id_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x81, dl->auth_smdp_oid, dl->auth_smdp_oid_len);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x82, req.reason);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, tbs);
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    if (!rc) {
        sgp32_bytes part = {out->data + tbs, out->len - tbs};
        rc = euicc_sign(euicc, &euicc->config.identities[dl->identity_index], &part, 1, sig);
    }
    if (!rc)
        rc = euicc_write_signature(out, sig);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, ok);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_CANCEL_SESSION_RESPONSE, outer);
    if (!rc)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "download session cancelled (reason %lld)",
                  (long long)req.reason);
    euicc_download_discard(euicc);
    return rc;
}
