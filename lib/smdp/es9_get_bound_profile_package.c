/*
 * ES9+.GetBoundProfilePackage (SGP.22 §5.6.2; NOTES §6.2 step 5, §7).
 *
 *   the transaction is known and authenticated                else 8.10.1/3.9 (invalidTransactionId 95)
 *   the order is still this session's, Released or Downloaded else 8.8.5/4.10 (downloadOrderExpired 6)
 *   PrepareDownloadResponse decodes, is not an eUICC error    else 1.6/2.1, 8.1/4.2 (undefinedError 127)
 *   euiccSignature2                                           else 8.1/6.1 (euiccSignatureInvalid 1)
 *   hashCc present / right / retries left                     else 8.2.7/2.2 (2), 8.2.7/3.8 (3), 8.2.7/6.4
 * (4) Then the BPP: a fresh one-time key pair, session keys, SCP03t over the personalised profile (metadata
 * with PPRs, header ICCID). The order goes to Downloaded.
 *
 * Retry (SGP.22 §3.1.3): the same PrepareDownloadResponse again in this session returns the same
 * BPP (the LPA lost the answer). Another one in this session is 8.2/3.7 (bppRebindingRefused 5):
 * the eUICC's one-time key is bound. A new session for the same order (a new otPK.EUICC) binds
 * again with new keys, as long as no PIR arrived.
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

/* A wrong confirmation code: count it; the last allowed one ends the order. */
static int wrong_code(const sgp32_smdp_server *srv, sgp32_smdp_order *order, sgp32_smdp_es9_response *resp)
{
    order->cc_failures++;
    bool exhausted = order->cc_failures >= server_cc_max(srv);
    if (exhausted)
        (void)sgp32_smdp_order_step(order, SGP32_ORDER_EV_FAILED);
    order->transaction_id[0] = '\0';
    if (exhausted)
        fail(resp, "8.2.7", "6.4", 4, "confirmation code retries exceeded");
    else
        fail(resp, "8.2.7", "3.8", 3, "confirmation code refused");
    return server_order_report(srv, order, true, 2, &resp->status); /* confirmation failure */
}

static void verdict_failure(const sgp32_smdp_check *check, sgp32_smdp_es9_response *resp)
{
    switch (check->verdict) {
    case SGP32_SMDP_MALFORMED:
    case SGP32_SMDP_OTPK_INVALID: fail(resp, "1.6", "2.1", 127, "prepareDownloadResponse invalid"); break;
    case SGP32_SMDP_EUICC_ERROR: fail(resp, "8.1", "4.2", 127, "the eUICC refused PrepareDownload"); break;
    case SGP32_SMDP_TRANSACTION_MISMATCH:
        fail(resp, "8.10.1", "3.9", 95, "transactionId differs inside euiccSigned2");
        break;
    case SGP32_SMDP_CONFIRMATION_CODE_MISSING:
        fail(resp, "8.2.7", "2.2", 2, "confirmation code missing");
        break;
    default: fail(resp, "8.1", "6.1", 1, "eUICC signature invalid"); break;
    }
}

int sgp32_smdp_es9_get_bound_profile_package(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                             sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_smdp_session_record rec;
    sgp32_smdp_session_record_init(&rec);
    sgp32_smdp_session *s = sgp32_alloc(sizeof(*s));
    sgp32_buf upp, metadata;
    sgp32_buf_init(&upp, SGP32_SMDP_BPP_MAX);
    sgp32_buf_init(&metadata, 1 << 16);
    sgp32_smdp_order order;
    memset(&order, 0, sizeof(order));
    char eid[SGP32_SMDP_EID_DIGITS + 1] = "";
    uint8_t pdr_hash[SGP32_SHA256_LEN];
    bool end_session = false;
    int rc =
        s ? server_session_load(srv, req->transaction_id, req->transaction_id_len, &rec, s, &resp->status)
          : SGP32_ERR_NO_MEMORY;
    if (rc || !sgp32_smdp_status_ok(&resp->status)) {
        resp->asn1_error = 95;
        goto out;
    }
    server_hex(s->eid, sizeof(s->eid), eid);
    rc = sgp32_sha256(req->der.data, req->der.len, pdr_hash);
    if (rc)
        goto out;
    memcpy(resp->transaction_id, s->transaction_id, s->transaction_id_len);
    resp->transaction_id_len = s->transaction_id_len;
    if (s->phase == SGP32_SMDP_BPP_BOUND) {
        if (rec.bpp.len && memcmp(pdr_hash, rec.pdr_sha256, sizeof(pdr_hash)) == 0) {
            rc = sgp32_buf_append(&resp->bpp, rec.bpp.data, rec.bpp.len);
            server_log(SGP32_LOG_INFO, rec.transaction_id, eid, "getBoundProfilePackage: retry, same BPP");
        } else {
            fail(resp, "8.2", "3.7", 5, "BPP already bound to another one-time key in this session");
        }
        goto out;
    }
    if (s->phase != SGP32_SMDP_CLIENT_OK) {
        fail(resp, "8.10.1", "3.9", 95, "transaction not ready for GetBoundProfilePackage");
        goto out;
    }
    end_session = true;
    rc = srv->config.store.order_get(srv->config.store.ctx, rec.iccid, &order);
    if (rc == SGP32_ERR_NOT_FOUND ||
        (!rc && (strcmp(order.transaction_id, rec.transaction_id) != 0 ||
                 (order.state != SGP32_ORDER_RELEASED && order.state != SGP32_ORDER_DOWNLOADED)))) {
        rc = SGP32_OK;
        fail(resp, "8.8.5", "4.10", 6, "download order no longer valid for this session");
        goto out;
    }
    if (rc)
        goto out;
    if (order.cc_required && order.cc_failures >= server_cc_max(srv)) {
        fail(resp, "8.2.7", "6.4", 4, "confirmation code retries exceeded");
        goto out;
    }
    const sgp32_smdp_profile_template *t = server_template(srv, order.profile_type);
    if (!t) {
        fail(resp, "8.2", "3.7", 127, "profile type of the order has no template");
        goto out;
    }
    rc = sgp32_smdp_personalise_order(srv, t, &order, s->server_address, &upp, &metadata);
    if (rc == SGP32_ERR_NOT_FOUND) { /* the type requires per-profile AKA keys, none for this ICCID */
        rc = SGP32_OK;
        fail(resp, "8.2", "3.7", 127, "no AKA keys for the profile of the order");
        goto out;
    }
    sgp32_smdp_check check;
    sgp32_smdp_bpp_params params = {.metadata = sgp32_buf_bytes(&metadata), .upp = sgp32_buf_bytes(&upp)};
    if (!rc)
        rc =
            sgp32_smdp_get_bound_profile_package(s, req->der.data, req->der.len, &params, &resp->bpp, &check);
    if (rc)
        goto out;
    if (check.verdict == SGP32_SMDP_CONFIRMATION_CODE_REFUSED) {
        rc = wrong_code(srv, &order, resp);
        goto out;
    }
    if (check.verdict != SGP32_SMDP_ACCEPTED) {
        verdict_failure(&check, resp);
        goto out;
    }
    /* the order update and the session with its BPP: one transaction (both or neither) */
    memcpy(rec.pdr_sha256, pdr_hash, sizeof(pdr_hash));
    sgp32_buf_reset(&rec.bpp);
    rc = sgp32_buf_append(&rec.bpp, resp->bpp.data, resp->bpp.len);
    if (!rc)
        rc = sgp32_smdp_order_step(&order, SGP32_ORDER_EV_BPP_BOUND);
    if (!rc)
        rc = server_tx_begin(srv);
    if (!rc) {
        rc = server_order_update(srv, &order, &resp->status);
        if (!rc && sgp32_smdp_status_ok(&resp->status))
            rc = server_session_save(srv, &rec, s);
        /* the BPP-download event (point 3) commits with the order it reports */
        if (!rc && sgp32_smdp_status_ok(&resp->status))
            server_event(srv, &order, 3, &resp->status);
        int end = server_tx_end(srv, !rc && sgp32_smdp_status_ok(&resp->status));
        if (!rc)
            rc = end;
    }
    if (rc || !sgp32_smdp_status_ok(&resp->status))
        sgp32_buf_reset(&resp->bpp);
    if (!rc && sgp32_smdp_status_ok(&resp->status)) {
        end_session = false;
        server_log(SGP32_LOG_INFO, rec.transaction_id, eid,
                   "getBoundProfilePackage: order %s bound (%zu bytes)", order.iccid, resp->bpp.len);
    }
out:
    if (!sgp32_smdp_status_ok(&resp->status))
        server_log(SGP32_LOG_WARN, rec.transaction_id, eid, "getBoundProfilePackage refused: %s/%s %s",
                   resp->status.subject, resp->status.reason, resp->status.message);
    if (end_session && (rc || !sgp32_smdp_status_ok(&resp->status)))
        server_session_end(srv, rec.transaction_id);
    if (s) {
        sgp32_smdp_session_clear(s);
        sgp32_free(s, sizeof(*s));
    }
    if (upp.data)
        sgp32_secure_zero(upp.data, upp.len); /* the plain profile: Ki and OPc */
    sgp32_buf_free(&upp);
    sgp32_buf_free(&metadata);
    sgp32_smdp_session_record_free(&rec);
    return rc;
}
