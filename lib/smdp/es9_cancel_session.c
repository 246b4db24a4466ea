/*
 * ES9+.CancelSession (SGP.22 §5.6.5).
 *
 *   the transaction is known and the eUICC authenticated      else 8.10.1/3.9 (invalidTransactionId 1)
 *   CancelSessionResponse decodes, is not an eUICC error      else 1.6/2.1, 8.1/4.2 (undefinedError 127)
 *   the eUICC's signature                                     else 8.1/6.1 (euiccSignatureInvalid 2)
 *   our SM-DP+ OID                                            else 8.8/3.10 (undefinedError 127)
 * Then the session ends. The order: postponed (1) and timeout (2) put it back to Released for a
 * later download; the other reasons (end user rejection, PPR not allowed, metadata mismatch, load
 * BPP error, undefined) put it in Error.
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

static void fail(sgp32_smdp_es9_response *resp, const char *subject, const char *reason, int64_t code,
                 const char *msg)
{
    sgp32_smdp_status_set(&resp->status, subject, reason, msg);
    resp->asn1_error = code;
}

int sgp32_smdp_es9_cancel_session(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                  sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_smdp_session_record rec;
    sgp32_smdp_session_record_init(&rec);
    sgp32_smdp_session *s = sgp32_alloc(sizeof(*s));
    char eid[SGP32_SMDP_EID_DIGITS + 1] = "";
    int rc =
        s ? server_session_load(srv, req->transaction_id, req->transaction_id_len, &rec, s, &resp->status)
          : SGP32_ERR_NO_MEMORY;
    if (rc || !sgp32_smdp_status_ok(&resp->status)) {
        resp->asn1_error = 1;
        goto out;
    }
    server_hex(s->eid, sizeof(s->eid), eid);
    sgp32_smdp_check check;
    int64_t reason = 127;
    rc = sgp32_smdp_verify_cancel_session(s, req->der.data, req->der.len, &reason, &check);
    if (rc == SGP32_ERR_STATE) {
        rc = SGP32_OK;
        fail(resp, "8.10.1", "3.9", 1, "transaction not authenticated or already finished");
        goto out;
    }
    if (rc)
        goto out;
    switch (check.verdict) {
    case SGP32_SMDP_ACCEPTED: break;
    case SGP32_SMDP_MALFORMED:
        fail(resp, "1.6", "2.1", 127, "cancelSessionResponse does not decode");
        goto out;
    case SGP32_SMDP_EUICC_ERROR: fail(resp, "8.1", "4.2", 127, "the eUICC refused CancelSession"); goto out;
    case SGP32_SMDP_TRANSACTION_MISMATCH:
        fail(resp, "8.10.1", "3.9", 1, "transactionId differs inside the signed data");
        goto out;
    case SGP32_SMDP_OID_MISMATCH: fail(resp, "8.8", "3.10", 127, "invalid SM-DP+ OID"); goto out;
    default: fail(resp, "8.1", "6.1", 2, "eUICC signature invalid"); goto out;
    }
    sgp32_smdp_order order;
    if (rec.iccid[0] && srv->config.store.order_get(srv->config.store.ctx, rec.iccid, &order) == SGP32_OK &&
        strcmp(order.transaction_id, rec.transaction_id) == 0) {
        bool retry = reason == 1 || reason == 2;
        sgp32_smdp_status outcome = {0};
        char msg[48];
        snprintf(msg, sizeof(msg), "session cancelled, reason %lld", (long long)reason);
        sgp32_smdp_status_set(&outcome, reason == 0 ? "8.8.5" : "8", reason == 0 ? "3.8" : "4.2", msg);
        bool stepped =
            sgp32_smdp_order_step(&order, retry ? SGP32_ORDER_EV_RETRY : SGP32_ORDER_EV_FAILED) == SGP32_OK;
        if (stepped)
            order.transaction_id[0] = '\0';
        rc = server_order_report(srv, &order, stepped, 3, &outcome);
    }
    server_log(SGP32_LOG_INFO, rec.transaction_id, eid, "cancelSession: reason %lld", (long long)reason);
    server_session_end(srv, rec.transaction_id);
out:
    if (!sgp32_smdp_status_ok(&resp->status))
        server_log(SGP32_LOG_WARN, rec.transaction_id, eid, "cancelSession refused: %s/%s %s",
                   resp->status.subject, resp->status.reason, resp->status.message);
    if (s) {
        sgp32_smdp_session_clear(s);
        sgp32_free(s, sizeof(*s));
    }
    sgp32_smdp_session_record_free(&rec);
    return rc;
}
