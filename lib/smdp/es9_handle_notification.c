/*
 * ES9+.HandleNotification (SGP.22 §5.6.4; NOTES §6.2 step 6). No output data: the HTTP answer is
 * 204 whatever the notification was worth (the eUICC deletes it once delivered), so what is
 * found goes to the logs and to the order.
 *
 *   PIR (BF37): the session of its transactionId, euiccSignPIR with that session's PK.EUICC, our
 *     SM-DP+ OID. Success: the order is Installed; error: Error. The session ends either way.
 *   other notifications (30): CERT.EUM -> CERT.EUICC under a trusted CI and the signature over
 *     the BF2F metadata; logged with the ICCID and the operation.
 * A request that does not decode is 1.6/2.1 (still a spec error, not a 204).
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

static int handle_pir(const sgp32_smdp_server *srv, const sgp32_sgp32_profile_installation_result *pir,
                      const sgp32_smdp_es9_request *req, sgp32_smdp_es9_response *resp)
{
    sgp32_bytes txid = pir->profile_installation_result_data.transaction_id;
    sgp32_smdp_session_record rec;
    sgp32_smdp_session_record_init(&rec);
    sgp32_smdp_session *s = sgp32_alloc(sizeof(*s));
    sgp32_smdp_status lookup = {0};
    char eid[SGP32_SMDP_EID_DIGITS + 1] = "";
    int rc = s ? server_session_load(srv, txid.data, txid.len, &rec, s, &lookup) : SGP32_ERR_NO_MEMORY;
    if (rc || !sgp32_smdp_status_ok(&lookup)) {
        server_log(SGP32_LOG_WARN, NULL, NULL, "handleNotification: PIR for an unknown transaction ignored");
        goto out;
    }
    server_hex(s->eid, sizeof(s->eid), eid);
    sgp32_smdp_pir result;
    sgp32_smdp_check check;
    rc = sgp32_smdp_verify_pir(s, req->der.data, req->der.len, &result, &check);
    if (rc == SGP32_ERR_STATE) {
        rc = SGP32_OK;
        server_log(SGP32_LOG_WARN, rec.transaction_id, eid, "handleNotification: PIR before a BPP; ignored");
        goto out;
    }
    if (rc)
        goto out;
    if (check.verdict != SGP32_SMDP_ACCEPTED) {
        server_log(SGP32_LOG_WARN, rec.transaction_id, eid, "handleNotification: PIR refused (verdict %d)",
                   (int)check.verdict);
        goto out;
    }
    sgp32_smdp_order order;
    rc = srv->config.store.order_get(srv->config.store.ctx, rec.iccid, &order);
    if (!rc) {
        sgp32_smdp_status outcome = {0};
        if (!result.success) {
            char msg[64];
            snprintf(msg, sizeof(msg), "installation failed: bppCommandId %lld errorReason %lld",
                     (long long)result.bpp_command_id, (long long)result.error_reason);
            sgp32_smdp_status_set(&outcome, "8.2.10", "4.2", msg);
        }
        /* the order update and the end of the session: one transaction */
        rc = server_tx_begin(srv);
        if (!rc) {
            if (sgp32_smdp_order_step(&order, result.success ? SGP32_ORDER_EV_INSTALLED
                                                             : SGP32_ORDER_EV_FAILED) == SGP32_OK) {
                if (strcmp(order.transaction_id, rec.transaction_id) == 0)
                    order.transaction_id[0] = '\0';
                sgp32_smdp_status ignored = {0};
                rc = server_order_update(srv, &order, &ignored);
            }
            server_session_end(srv, rec.transaction_id);
            /* the installation event (point 4) commits with the order it reports */
            server_event(srv, &order, 4, &outcome);
            int end = server_tx_end(srv, true); /* the session ends even if the update failed */
            if (!rc)
                rc = end;
        }
        server_log(result.success ? SGP32_LOG_INFO : SGP32_LOG_WARN, rec.transaction_id, eid,
                   "handleNotification: PIR for order %s: %s%s%s", order.iccid,
                   result.success ? "installed" : "failed", result.success ? "" : ", ", outcome.message);
    } else {
        if (rc == SGP32_ERR_NOT_FOUND)
            rc = SGP32_OK;
        server_session_end(srv, rec.transaction_id);
    }
out:
    if (s) {
        sgp32_smdp_session_clear(s);
        sgp32_free(s, sizeof(*s));
    }
    sgp32_smdp_session_record_free(&rec);
    (void)resp;
    return rc;
}

static int handle_other(const sgp32_smdp_server *srv, const sgp32_other_signed_notification *n)
{
    sgp32_euicc_chain *chain = sgp32_alloc(sizeof(*chain));
    if (!chain)
        return SGP32_ERR_NO_MEMORY;
    int rc = sgp32_cert_verify_euicc_chain(srv->config.trusted_cis, n->eum_certificate, n->euicc_certificate,
                                           server_now(srv), NULL, chain);
    char eid[SGP32_SMDP_EID_DIGITS + 1] = "";
    if (!rc) {
        server_hex(chain->euicc.eid, sizeof(chain->euicc.eid), eid);
        if (n->euicc_notification_signature.len != SGP32_EC_RAW_SIG_LEN ||
            sgp32_ecdsa_verify(&chain->euicc.public_key, &n->tbs_other_notification.der, 1,
                               n->euicc_notification_signature.data) != SGP32_OK)
            rc = SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    }
    char iccid[21] = "";
    const sgp32_notification_metadata *m = &n->tbs_other_notification;
    if (m->has_iccid && m->iccid.len == 10)
        for (size_t i = 0; i < 10; i++) {
            static const char digit[] = "0123456789ABCDEF";
            iccid[2 * i] = digit[m->iccid.data[i] & 0xF];
            iccid[2 * i + 1] = digit[m->iccid.data[i] >> 4];
        }
    if (rc)
        server_log(SGP32_LOG_WARN, NULL, eid, "handleNotification: notification %lld refused: %s",
                   (long long)m->seq_number, sgp32_err_str(rc));
    else
        server_log(SGP32_LOG_INFO, NULL, eid, "handleNotification: notification %lld (operation 0x%X) for %s",
                   (long long)m->seq_number, (unsigned)m->profile_management_operation, iccid);
    sgp32_free(chain, sizeof(*chain));
    return SGP32_OK;
}

int sgp32_smdp_es9_handle_notification(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                       sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 32 * 1024);
    sgp32_sgp32_pending_notification *n = sgp32_alloc(sizeof(*n));
    int rc = n ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc) {
        int decoded =
            sgp32_asn1_decode(&sgp32_type_sgp32_pending_notification, req->der.data, req->der.len, &arena, n);
        if (decoded)
            sgp32_smdp_status_set(&resp->status, "1.6", "2.1", "pendingNotification does not decode");
        else if (n->choice == SGP32_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT)
            rc = handle_pir(srv, &n->u.profile_installation_result, req, resp);
        else if (n->choice == SGP32_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION)
            rc = handle_other(srv, &n->u.other_signed_notification);
        else
            sgp32_smdp_status_set(&resp->status, "1.6", "2.1", "compact notifications are for the eIM");
    }
    if (n)
        sgp32_free(n, sizeof(*n));
    sgp32_arena_free(&arena);
    return rc;
}
