/*
 * ESipa.CancelSession (SGP.32 §5.14.8; indirect download §3.2.3.2, on failure after step 3;
 * NOTES §3.2, §2 rule 5), relayed to ES9+.CancelSession (SGP.22 §5.6.5).
 *
 *   IPA -> eIM   BF41 {80 transactionId, A1 <contents of the eUICC's BF41 CancelSessionResponse>}
 *   eIM -> DP    BF41 {80 transactionId, A1 <the same>}     (automatic tags: A1 replaces BF41 in both)
 *   DP -> eIM    BF41 {A0 {} | 81 code}
 *   eIM -> IPA   BF41 {A0 {} | 81 code: invalidTransactionId 1, euiccSignatureInvalid 2, undefinedError 127}
 *
 * The eUICC-signed cancelSessionResponse is forwarded byte for byte; its compact form needs the
 * SM-DP+ OID to rebuild the signed data and is not accepted (the eIM announces no compact support).
 * The relay session ends when the SM-DP+ took the cancellation, or did not know the transaction.
 */
#include <stdio.h>
#include <string.h>

#include "eim_relay.h"

enum { ERR_INVALID_TRANSACTION_ID = 1 };

#define FN SGP32_EIM_RELAY_CANCEL_SESSION

/* The A1 cancelSessionResponse component of the request as received. */
static bool find_response(sgp32_bytes request, sgp32_asn1_tlv *a1)
{
    sgp32_asn1_tlv outer, t;
    sgp32_asn1_reader r;
    if (sgp32_asn1_read_tlv(request.data, request.len, &outer, NULL) != SGP32_OK || outer.tag != 0xBF41)
        return false;
    sgp32_asn1_reader_init(&r, outer.value, 1);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK)
        if (t.tag == 0xA1) {
            *a1 = t;
            return true;
        }
    return false;
}

int sgp32_eim_cancel_session(const sgp32_eim_server *srv, const sgp32_cancel_session_request_esipa *req,
                             sgp32_buf *out, sgp32_eim_esipa_info *info)
{
    if (!srv || !req || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_eim_store *st = &srv->config.store;
    size_t before = out->len;
    char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1];
    int64_t error = 0;
    const char *why = NULL;
    sgp32_eim_relay relay;
    sgp32_eim_relay_call call;
    sgp32_log_context ctx;
    sgp32_asn1_tlv a1;
    sgp32_buf request, answer;
    size_t mark;
    memset(&call, 0, sizeof(call));
    sgp32_buf_init(&request, EIM_RELAY_ANSWER_MAX);
    sgp32_buf_init(&answer, EIM_RELAY_ANSWER_MAX);
    sgp32_eim_relay_log_context(&ctx, NULL, req->transaction_id, txid_hex);

    int rc = sgp32_eim_relay_session(srv, req->transaction_id, ERR_INVALID_TRANSACTION_ID, &relay, &ctx,
                                     &error, &why);
    if (rc)
        goto out;
    if (error)
        goto refuse;
    if (req->cancel_session_response.choice ==
        SGP32_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK) {
        error = EIM_RELAY_UNDEFINED;
        why = "compact CancelSessionResponse is not supported";
        goto refuse;
    }
    if (!find_response(req->der, &a1)) {
        error = EIM_RELAY_UNDEFINED;
        why = "no cancelSessionResponse in the request";
        goto refuse;
    }

    /* ES9+ CancelSessionRequestEs9 BF41 {80 txid, A1 as received}. */
    mark = sgp32_asn1_begin(&request);
    rc = sgp32_asn1_write_tlv(&request, 0x80, req->transaction_id.data, req->transaction_id.len);
    if (!rc)
        rc = sgp32_buf_append(&request, a1.whole.data, a1.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(&request, 0xBF41, mark);
    if (!rc)
        rc = sgp32_eim_relay_es9(srv, FN, relay.smdp_address, relay.eid, request.data, request.len, &answer,
                                 &call);
    if (rc)
        goto out;
    if (call.ok || call.error == ERR_INVALID_TRANSACTION_ID) {
        int drc = st->relay_delete
                      ? st->relay_delete(st->ctx, req->transaction_id.data, req->transaction_id.len)
                      : SGP32_ERR_UNSUPPORTED;
        if (drc && drc != SGP32_ERR_NOT_FOUND)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx, "relay session not deleted: %s",
                      sgp32_err_str(drc));
    }
    if (!call.ok) {
        error = call.error;
        goto refuse;
    }
    /* CancelSessionResponseEsipa BF41 {A0 cancelSessionOk (empty)}. */
    mark = sgp32_asn1_begin(out);
    rc = sgp32_asn1_write_tlv(out, 0xA0, NULL, 0);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xBF41, mark);
    if (rc)
        goto out;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "CancelSession relayed to %s", relay.smdp_address);
    sgp32_eim_relay_info_outcome(info, FN, &relay, relay.smdp_address, &call);
    goto out;

refuse:
    rc = sgp32_eim_relay_refuse(FN, error, why, relay.eid, &relay, relay.smdp_address, &call, &ctx, info, out,
                                before);
out:
    if (rc)
        out->len = before;
    sgp32_buf_free(&request);
    sgp32_buf_free(&answer);
    return rc;
}
