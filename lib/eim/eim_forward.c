/*
 * Notification forwarding over ES9+' (SGP.32 §3.7 and §3.2.3.2 step 11; SGP.22 §5.6.4
 * ES9+.HandleNotification, §6.6; NOTES §3.3 "Notifications", §4.4): the notifications the eIM
 * took from IPAs (HandleNotification, ePRAndNotifications) and queued in the outbox go to their
 * SM-DP+ (the notificationAddress) as
 *
 *   HandleNotification BF3D {A0 {BF37 PIR | 30 OtherSignedNotification}}
 *
 * (the DER es9_client.h and the ES9+ ASN.1 binding take, without the A2 wrapper; no answer).
 *
 * Delivery: taken (the SM-DP+ answered, even with a failed status: a notification it refuses
 * will not be taken by repeating it; audit "notification.refused") -> the item is deleted. Not
 * reached (transport failure) -> attempts + 1 and the next attempt after min(2^attempts * 30 s,
 * 1 h); after 20 attempts the item is dropped (audit "notification.dropped").
 */
#include <stdio.h>
#include <string.h>

#include "eim_relay.h"

enum {
    FORWARD_MAX_ATTEMPTS = 20,
    FORWARD_BASE_DELAY = 30,  /* seconds */
    FORWARD_MAX_DELAY = 3600, /* seconds */
    FORWARD_REQUEST_MAX = 20 << 10,
    FORWARD_ANSWER_MAX = 4 << 10,
};

/* min(2^attempts * 30 s, 1 h) */
static int64_t backoff(int attempts)
{
    int64_t delay = FORWARD_BASE_DELAY;
    for (int i = 0; i < attempts && delay < FORWARD_MAX_DELAY; i++)
        delay *= 2;
    return delay < FORWARD_MAX_DELAY ? delay : FORWARD_MAX_DELAY;
}

/* The PendingNotification of an item: BF37 or 30. An item kept as the ESipa HandleNotification
 * component A0 {BF37 | 30} (the explicit [0] around it) is taken out of that wrapper; A0 {A0 ...}
 * is a compact PIR and stays as it is (the SM-DP+ refuses it: it cannot be rebuilt here). */
static sgp32_bytes pending_notification(const sgp32_buf *stored)
{
    sgp32_asn1_tlv outer, inner;
    if (sgp32_asn1_read_tlv(stored->data, stored->len, &outer, NULL) == SGP32_OK && outer.tag == 0xA0 &&
        outer.whole.len == stored->len &&
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &inner, NULL) == SGP32_OK &&
        inner.whole.len == outer.value.len && (inner.tag == 0xBF37 || inner.tag == 0x30))
        return inner.whole;
    return sgp32_buf_bytes(stored);
}

/* BF3D {A0 {pendingNotification}} */
static int handle_notification_request(const sgp32_eim_outbox_item *item, sgp32_buf *out)
{
    sgp32_bytes notification = pending_notification(&item->notification);
    sgp32_buf_reset(out);
    size_t outer = sgp32_asn1_begin(out);
    size_t a0 = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, notification.data, notification.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, a0);
    return rc ? rc : sgp32_asn1_end(out, 0xBF3D, outer);
}

/* One due item: forward it and settle it in the outbox. *taken: the SM-DP+ took it. */
static int forward_one(const sgp32_eim_server *srv, sgp32_eim_outbox_item *item, int64_t now,
                       sgp32_buf *request, sgp32_buf *answer, bool *taken)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_log_context ctx = {.component = "eim", .eid = item->eid[0] ? item->eid : NULL};
    char detail[sizeof(((sgp32_eim_event *)0)->detail)];
    sgp32_eim_es9_status status;
    memset(&status, 0, sizeof(status));
    *taken = false;
    int rc = handle_notification_request(item, request);
    if (rc)
        return rc;
    sgp32_buf_reset(answer);
    sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EIM, &ctx, "ES9+ handleNotification", request->data,
                  request->len);
    int call = srv->config.es9_call(srv->config.es9_ctx, item->address, request->data, request->len, answer,
                                    &status);
    status.subject_code[sizeof(status.subject_code) - 1] = '\0';
    status.reason_code[sizeof(status.reason_code) - 1] = '\0';
    status.message[sizeof(status.message) - 1] = '\0';
    if (call == SGP32_OK) {
        *taken = !status.subject_code[0];
        if (*taken) {
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "notification %lld forwarded to %s",
                      (long long)item->id, item->address);
        } else {
            snprintf(detail, sizeof(detail), "%s refused it: %s/%s %s", item->address, status.subject_code,
                     status.reason_code, status.message);
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx, "notification %lld: %s", (long long)item->id,
                      detail);
            sgp32_eim_audit(srv, "eimd", "notification.refused", item->eid, 0, detail);
        }
        return st->outbox_delete(st->ctx, item->id);
    }
    item->attempts++;
    if (item->attempts >= FORWARD_MAX_ATTEMPTS) {
        snprintf(detail, sizeof(detail), "%s unreachable after %d attempts: %s", item->address,
                 item->attempts, sgp32_err_str(call));
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, &ctx, "notification %lld dropped: %s", (long long)item->id,
                  detail);
        sgp32_eim_audit(srv, "eimd", "notification.dropped", item->eid, 0, detail);
        return st->outbox_delete(st->ctx, item->id);
    }
    item->next_attempt = now + backoff(item->attempts);
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx,
              "notification %lld to %s not delivered (%s), attempt %d, next in %lld s", (long long)item->id,
              item->address, sgp32_err_str(call), item->attempts, (long long)(item->next_attempt - now));
    return st->outbox_update(st->ctx, item);
}

int sgp32_eim_forward_notifications(const sgp32_eim_server *srv, size_t max, size_t *forwarded)
{
    if (forwarded)
        *forwarded = 0;
    if (!srv)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_eim_store *st = &srv->config.store;
    if (!srv->config.es9_call || !st->outbox_next || !st->outbox_update || !st->outbox_delete)
        return SGP32_ERR_UNSUPPORTED;
    sgp32_eim_outbox_item item;
    sgp32_buf request, answer;
    sgp32_eim_outbox_item_init(&item);
    sgp32_buf_init(&request, FORWARD_REQUEST_MAX);
    sgp32_buf_init(&answer, FORWARD_ANSWER_MAX);
    int rc = SGP32_OK;
    for (size_t n = 0; n < max; n++) {
        int64_t now = sgp32_eim_now(srv);
        sgp32_eim_outbox_item_free(&item);
        sgp32_eim_outbox_item_init(&item);
        rc = st->outbox_next(st->ctx, now, &item);
        if (rc == SGP32_ERR_NOT_FOUND) {
            rc = SGP32_OK;
            break;
        }
        bool taken = false;
        if (!rc)
            rc = forward_one(srv, &item, now, &request, &answer, &taken);
        if (rc) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, NULL, "notification forwarding stopped: %s",
                      sgp32_err_str(rc));
            break;
        }
        if (taken && forwarded)
            (*forwarded)++;
    }
    sgp32_eim_outbox_item_free(&item);
    sgp32_buf_free(&request);
    sgp32_buf_free(&answer);
    return rc;
}
