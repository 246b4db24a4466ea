/*
 * ES9+.AuthenticateClient (SGP.22 §5.6.3; NOTES §6.2 step 3).
 *
 *   the transaction is known and waiting for this call         else 8.10.1/3.9 (invalidTransactionId 10)
 *   AuthenticateServerResponse decodes and is not an error     else 1.6/2.1, 8.1/4.2 (undefinedError 127)
 *   CERT.EUM under a trusted CI, the one chosen                else 8.11.1/3.9 (ciPKUnknown 9)
 *   CERT.EUM valid / in date                                   else 8.1.2/6.1 (1) / 8.1.2/6.3 (2)
 *   CERT.EUICC valid / in date                                 else 8.1.3/6.1 (3) / 8.1.3/6.3 (4)
 *   euiccSignature1, serverChallenge, serverAddress            else 8.1/6.1 (euiccSignatureInvalid 5)
 *   matchingId names an order (empty: a default order for EID) else 8.2.6/3.8 (6) / 8.1.1/3.9 (6)
 *   the order's EID, when set, is the eUICC's                  else 8.1.1/3.8 (eidMismatch 7)
 *   the order is Released (or Downloaded: a retry)             else 8.2/1.2 (noEligibleProfile 8),
 *                                                                   8.2.6/3.8 for a used matchingId
 *   download attempts and confirmation-code failures left      else 8.8.5/6.4, 8.2.7/6.4
 * Then smdpSigned2 (ccRequiredFlag from the order) and the profile metadata. Any refusal after
 * the transaction was found ends the session.
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

/* Which certificate a refused chain is about (the chain check reports one error for both). */
static void certificate_failure(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req, int err,
                                sgp32_smdp_es9_response *resp)
{
    if (err == SGP32_ERR_CERT_UNKNOWN_CI) {
        fail(resp, "8.11.1", "3.9", 9, "unknown CI public key");
        return;
    }
    sgp32_arena arena;
    sgp32_arena_init(&arena, 32 * 1024);
    sgp32_sgp32_authenticate_server_response *r = sgp32_alloc(sizeof(*r));
    sgp32_certificate *eum = sgp32_alloc(sizeof(*eum));
    bool eum_bad = true, eum_dates = false;
    if (r && eum &&
        sgp32_asn1_decode(&sgp32_type_sgp32_authenticate_server_response, req->der.data, req->der.len, &arena,
                          r) == SGP32_OK &&
        r->choice == SGP32_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK) {
        sgp32_bytes eum_der = r->u.authenticate_response_ok.eum_certificate;
        if (sgp32_cert_parse(eum_der.data, eum_der.len, eum) == SGP32_OK) {
            const sgp32_ci_entry *ci = sgp32_ci_set_find(srv->config.trusted_cis, eum->aki.id, eum->aki.len);
            int64_t now = server_now(srv);
            eum_dates = now < eum->not_before || now > eum->not_after;
            eum_bad = !ci || eum->role != SGP32_CERT_ROLE_EUM ||
                      sgp32_cert_verify_issued_by(eum_der, SGP32_BYTES(ci->der, ci->der_len),
                                                  SGP32_CERT_NO_TIME_CHECK, NULL) != SGP32_OK;
        }
    }
    bool dates = err == SGP32_ERR_CERT_EXPIRED || err == SGP32_ERR_CERT_NOT_YET_VALID;
    if (dates && eum_dates)
        fail(resp, "8.1.2", "6.3", 2, "EUM certificate expired");
    else if (dates)
        fail(resp, "8.1.3", "6.3", 4, "eUICC certificate expired");
    else if (eum_bad)
        fail(resp, "8.1.2", "6.1", 1, "EUM certificate invalid");
    else
        fail(resp, "8.1.3", "6.1", 3, "eUICC certificate invalid");
    if (eum)
        sgp32_free(eum, sizeof(*eum));
    if (r)
        sgp32_free(r, sizeof(*r));
    sgp32_arena_free(&arena);
}

static void verdict_failure(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                            const sgp32_smdp_check *check, sgp32_smdp_es9_response *resp)
{
    switch (check->verdict) {
    case SGP32_SMDP_MALFORMED:
        fail(resp, "1.6", "2.1", 127, "authenticateServerResponse does not decode");
        break;
    case SGP32_SMDP_EUICC_ERROR: fail(resp, "8.1", "4.2", 127, "the eUICC refused the authentication"); break;
    case SGP32_SMDP_TRANSACTION_MISMATCH:
        fail(resp, "8.10.1", "3.9", 10, "transactionId differs inside euiccSigned1");
        break;
    case SGP32_SMDP_CERTIFICATE_INVALID: certificate_failure(srv, req, check->detail, resp); break;
    case SGP32_SMDP_CI_MISMATCH:
        fail(resp, "8.11.1", "3.9", 9, "CERT.EUM is not under the CI to be used");
        break;
    default: fail(resp, "8.1", "6.1", 5, "eUICC signature or serverChallenge invalid"); break;
    }
}

/* Pick the order; sets the status and returns false when there is none for this eUICC. */
static bool pick_order(const sgp32_smdp_server *srv, const sgp32_smdp_session *s, const char *eid,
                       sgp32_smdp_order *order, sgp32_smdp_es9_response *resp, int *rc)
{
    const sgp32_smdp_store *st = &srv->config.store;
    bool by_matching_id = s->has_matching_id && s->matching_id[0];
    *rc = by_matching_id ? st->order_find_by_matching_id(st->ctx, s->matching_id, order)
                         : st->order_find_default(st->ctx, eid, order);
    if (*rc == SGP32_ERR_NOT_FOUND) {
        *rc = SGP32_OK;
        if (by_matching_id)
            fail(resp, "8.2.6", "3.8", 6, "matchingId refused");
        else
            fail(resp, "8.1.1", "3.9", 6, "no pending order for this EID");
        return false;
    }
    if (*rc)
        return false;
    if (order->eid[0] && strcmp(order->eid, eid) != 0) {
        fail(resp, "8.1.1", "3.8", 7, "EID does not match the order");
        return false;
    }
    if (order->cc_required && order->cc_failures >= server_cc_max(srv)) {
        fail(resp, "8.2.7", "6.4", 127, "confirmation code retries exceeded");
        return false;
    }
    switch (order->state) {
    case SGP32_ORDER_RELEASED:
    case SGP32_ORDER_DOWNLOADED: break;
    case SGP32_ORDER_ALLOCATED:
    case SGP32_ORDER_LINKED:
    case SGP32_ORDER_CONFIRMED: fail(resp, "8.2", "1.2", 8, "profile not released"); return false;
    default: fail(resp, "8.2.6", "3.8", 6, "matchingId refused (order used or cancelled)"); return false;
    }
    int max_attempts = srv->config.max_download_attempts > 0 ? srv->config.max_download_attempts : 10;
    if (order->download_attempts >= max_attempts) {
        fail(resp, "8.8.5", "6.4", 127, "maximum number of download attempts exceeded");
        return false;
    }
    return true;
}

int sgp32_smdp_es9_authenticate_client(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                       sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_smdp_session_record rec;
    sgp32_smdp_session_record_init(&rec);
    sgp32_smdp_session *s = sgp32_alloc(sizeof(*s));
    sgp32_smdp_order order;
    memset(&order, 0, sizeof(order));
    char eid[SGP32_SMDP_EID_DIGITS + 1] = "";
    bool end_session = false;
    int rc =
        s ? server_session_load(srv, req->transaction_id, req->transaction_id_len, &rec, s, &resp->status)
          : SGP32_ERR_NO_MEMORY;
    if (rc || !sgp32_smdp_status_ok(&resp->status)) {
        resp->asn1_error = 10;
        goto out;
    }
    if (s->phase != SGP32_SMDP_AUTH_STARTED) {
        fail(resp, "8.10.1", "3.9", 10, "transaction is past AuthenticateClient");
        goto out;
    }
    end_session = true;
    sgp32_smdp_check check;
    rc = sgp32_smdp_authenticate_client_verify(s, req->der.data, req->der.len, &check);
    if (rc)
        goto out;
    if (check.verdict != SGP32_SMDP_ACCEPTED) {
        verdict_failure(srv, req, &check, resp);
        goto out;
    }
    server_hex(s->eid, sizeof(s->eid), eid);
    if (!pick_order(srv, s, eid, &order, resp, &rc))
        goto out;
    const sgp32_smdp_profile_template *t = server_template(srv, order.profile_type);
    if (!t) {
        fail(resp, "8.2.5", "3.9", 8, "profile type of the order has no template");
        goto out;
    }
    rc = sgp32_smdp_authenticate_client_finish(s, order.cc_required ? order.cc_sha256 : NULL, NULL);
    if (!rc)
        rc = sgp32_smdp_profile_metadata(t, order.iccid, s->server_address, &resp->profile_metadata);
    snprintf(rec.iccid, sizeof(rec.iccid), "%s", order.iccid);
    if (rc)
        goto out;
    /* One transaction (both or neither, one commit): the order taken by this session, a session of
     * an earlier attempt for it superseded, this session saved, and the eligibility event (point 1)
     * that reports it. A concurrent change of the order rolls it all back. */
    char superseded[sizeof(order.transaction_id)] = "";
    if (order.transaction_id[0] && strcmp(order.transaction_id, rec.transaction_id) != 0)
        snprintf(superseded, sizeof(superseded), "%s", order.transaction_id);
    order.download_attempts++;
    snprintf(order.transaction_id, sizeof(order.transaction_id), "%s", rec.transaction_id);
    if (!order.eid[0])
        memcpy(order.eid, eid, sizeof(order.eid));
    rc = server_tx_begin(srv);
    if (!rc) {
        rc = server_order_update(srv, &order, &resp->status);
        bool taken = !rc && sgp32_smdp_status_ok(&resp->status);
        if (taken && superseded[0])
            server_session_end(srv, superseded);
        if (taken)
            rc = server_session_save(srv, &rec, s);
        if (taken && !rc)
            server_event(srv, &order, 1, &resp->status);
        int end = server_tx_end(srv, taken && !rc);
        if (!rc)
            rc = end;
    }
    if (!rc) {
        memcpy(resp->transaction_id, s->transaction_id, s->transaction_id_len);
        resp->transaction_id_len = s->transaction_id_len;
        rc = sgp32_buf_append(&resp->signed_data, s->smdp_signed2, s->smdp_signed2_len);
    }
    if (!rc)
        rc = sgp32_asn1_write_tlv(&resp->signature, 0x5F37, s->smdp_signature2, SGP32_EC_RAW_SIG_LEN);
    if (!rc)
        rc = sgp32_buf_append(&resp->certificate, s->credentials->dppb_certificate.data,
                              s->credentials->dppb_certificate.len);
    if (!rc) {
        end_session = false;
        server_log(SGP32_LOG_INFO, rec.transaction_id, eid, "authenticateClient: order %s (%s)%s",
                   order.iccid, order.profile_type, order.cc_required ? ", confirmation code required" : "");
    }
out:
    if (!sgp32_smdp_status_ok(&resp->status))
        server_log(SGP32_LOG_WARN, rec.transaction_id, eid, "authenticateClient refused: %s/%s %s",
                   resp->status.subject, resp->status.reason, resp->status.message);
    if (end_session && (rc || !sgp32_smdp_status_ok(&resp->status)))
        server_session_end(srv, rec.transaction_id);
    if (s) {
        sgp32_smdp_session_clear(s);
        sgp32_free(s, sizeof(*s));
    }
    sgp32_smdp_session_record_free(&rec);
    return rc;
}
